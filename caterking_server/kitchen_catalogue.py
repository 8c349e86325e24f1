"""Realistic catering prep work: the demo seed, the simulator and the estimates benchmark
draw from here.

Besides what a task says (title, quantity, unit, station, allergens, notes) this holds how
long the work really takes, so simulated chefs have times worth learning from: per job a
setup time plus minutes per unit, a speed per chef, and noise (docs/heuristics.md).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

STATIONS: tuple[str, ...] = ("Prep", "Grill", "Pastry", "Cold", "Sauce")

# (display_name, initials)
DEMO_STAFF: tuple[tuple[str, str], ...] = (
    ("Maria Santos", "MS"),
    ("Tom Becker", "TB"),
    ("Aisha Rahman", "AR"),
    ("Luca Moretti", "LM"),
    ("Priya Nair", "PN"),
    ("Sam O'Connor", "SO"),
)

# (title, quantity, unit, station): realistic catering prep.
TASK_TEMPLATES: tuple[tuple[str, float | None, str | None, str], ...] = (
    ("Dice onions", 5, "kg", "Prep"),
    ("Peel and cube potatoes", 12, "kg", "Prep"),
    ("Julienne carrots", 3, "kg", "Prep"),
    ("Pick and chop parsley", 8, "bunches", "Prep"),
    ("Mince garlic", 500, "g", "Prep"),
    ("Slice leeks", 4, "kg", "Prep"),
    ("Roast 40 chicken thighs", 40, "pcs", "Grill"),
    ("Char-grill zucchini", 6, "kg", "Grill"),
    ("Sear beef sirloin", 8, "kg", "Grill"),
    ("Grill halloumi skewers", 60, "pcs", "Grill"),
    ("Roast root vegetables", 10, "kg", "Grill"),
    ("Smoke salmon sides", 6, "pcs", "Grill"),
    ("Marinate chicken satay", 80, "skewers", "Grill"),
    ("Lemon tart shells", 48, "pcs", "Pastry"),
    ("Whip chantilly cream", 3, "L", "Pastry"),
    ("Prepare brioche dough", 4, "kg", "Pastry"),
    ("Pipe choux buns", 120, "pcs", "Pastry"),
    ("Temper dark chocolate", 2, "kg", "Pastry"),
    ("Bake focaccia trays", 6, "trays", "Pastry"),
    ("Toast flaked almonds", 500, "g", "Pastry"),
    ("Assemble caprese platters", 10, "platters", "Cold"),
    ("Portion Caesar salad", 80, "portions", "Cold"),
    ("Slice cured meats", 3, "kg", "Cold"),
    ("Make potato salad", 8, "kg", "Cold"),
    ("Plate smoked salmon canapés", 150, "pcs", "Cold"),
    ("Prepare fruit platters", 12, "platters", "Cold"),
    ("Peel prawns for cocktail", 3, "kg", "Cold"),
    ("Reduce veal jus", 4, "L", "Sauce"),
    ("Make hollandaise", 2, "L", "Sauce"),
    ("Blend salsa verde", 1.5, "L", "Sauce"),
    ("Simmer tomato sugo", 10, "L", "Sauce"),
    ("Whisk vinaigrette", 3, "L", "Sauce"),
    ("Make béchamel", 5, "L", "Sauce"),
    ("Steam mussels in white wine", 8, "kg", "Sauce"),
    ("Label and date allergen trays", None, None, "Prep"),
    ("Brine pork loins", 6, "pcs", "Prep"),
)

# What each dish contains, as tasks.allergens words (caterking_display.domain.task
# lists the 14). Titles not listed contain none of them.
ALLERGENS_BY_TITLE: dict[str, tuple[str, ...]] = {
    "Grill halloumi skewers": ("milk",),
    "Roast root vegetables": ("celery",),  # celeriac
    "Smoke salmon sides": ("fish",),
    "Marinate chicken satay": ("peanuts", "sesame", "soya"),
    "Lemon tart shells": ("gluten", "eggs", "milk"),
    "Whip chantilly cream": ("milk",),
    "Prepare brioche dough": ("gluten", "eggs", "milk"),
    "Pipe choux buns": ("gluten", "eggs", "milk"),
    "Temper dark chocolate": ("milk", "soya"),
    "Bake focaccia trays": ("gluten",),
    "Toast flaked almonds": ("nuts",),
    "Assemble caprese platters": ("milk",),
    "Portion Caesar salad": ("gluten", "eggs", "fish", "milk", "mustard"),
    "Make potato salad": ("eggs", "mustard"),
    "Plate smoked salmon canapés": ("gluten", "fish", "milk"),
    "Peel prawns for cocktail": ("crustaceans", "eggs", "mustard"),
    "Reduce veal jus": ("celery", "sulphites"),
    "Make hollandaise": ("eggs", "milk"),
    "Blend salsa verde": ("fish", "mustard"),
    "Simmer tomato sugo": ("celery",),
    "Whisk vinaigrette": ("mustard", "sulphites"),
    "Make béchamel": ("gluten", "milk"),
    "Steam mussels in white wine": ("celery", "molluscs", "sulphites"),
}

# What a head chef writes on a particular task.
NOTES_BY_TITLE: dict[str, str] = {
    "Dice onions": "For the Hughes wedding — no garlic",
    "Mince garlic": "Keep apart from the Hughes wedding prep",
    "Lemon tart shells": "Blind-bake; 12 gluten-free shells for table 4 on separate trays",
    "Marinate chicken satay": "Peanut sauce in labelled tubs; never on the nut-free pass",
    "Toast flaked almonds": "Separate board and tray: nut-free event tonight",
    "Portion Caesar salad": "Dressing on the side for the Barclays lunch",
    "Peel prawns for cocktail": "Keep the shells for the bisque",
    "Make hollandaise": "Hold at 60 °C at the pass; bin after two hours",
    "Steam mussels in white wine": "Discard any that stay shut",
    "Roast 40 chicken thighs": "Probe to 75 °C, log it on the HACCP sheet",
}

# General notes for the rest (no allergen claims: those belong to the task).
NOTES: tuple[str, ...] = (
    "",
    "For the Henley wedding, 120 covers",
    "Corporate lunch, Dock St",
    "Canapé reception at Riverside Hall",
    "",
)


# How long each job takes a typical chef, and the quantities it comes in (in the
# template's unit). Oven and stove times are in the setup: the chef claims the job and
# marks it done when it comes out.
@dataclass(frozen=True)
class PrepTime:
    setup: float  # minutes, whatever the quantity
    per_unit: float  # minutes per unit of the template's unit
    low: float = 0  # quantities are drawn from low..high in steps of step
    high: float = 0
    step: float = 1

    def minutes(self, quantity: float | None) -> float:
        """A typical chef's time for this quantity, without noise."""
        return self.setup + self.per_unit * (quantity or 0)


PREP_TIMES: dict[str, PrepTime] = {
    "Dice onions": PrepTime(4, 1.6, 2, 15),
    "Peel and cube potatoes": PrepTime(5, 2.2, 4, 20),
    "Julienne carrots": PrepTime(4, 3.5, 1, 6, 0.5),
    "Pick and chop parsley": PrepTime(2, 1.2, 3, 15),
    "Mince garlic": PrepTime(3, 0.02, 200, 1000, 50),
    "Slice leeks": PrepTime(3, 2.0, 2, 8),
    "Roast 40 chicken thighs": PrepTime(30, 0.25, 20, 60, 4),
    "Char-grill zucchini": PrepTime(5, 3.0, 2, 8),
    "Sear beef sirloin": PrepTime(8, 2.5, 3, 12),
    "Grill halloumi skewers": PrepTime(5, 0.25, 30, 120, 10),
    "Roast root vegetables": PrepTime(25, 1.0, 5, 20),
    "Smoke salmon sides": PrepTime(20, 4.0, 2, 10),
    "Marinate chicken satay": PrepTime(6, 0.2, 40, 160, 20),
    "Lemon tart shells": PrepTime(15, 0.4, 24, 96, 12),
    "Whip chantilly cream": PrepTime(3, 2.5, 1, 6),
    "Prepare brioche dough": PrepTime(10, 3.0, 2, 8),
    "Pipe choux buns": PrepTime(8, 0.15, 60, 240, 20),
    "Temper dark chocolate": PrepTime(12, 5.0, 1, 4, 0.5),
    "Bake focaccia trays": PrepTime(15, 3.0, 2, 10),
    "Toast flaked almonds": PrepTime(4, 0.01, 250, 1500, 250),
    "Assemble caprese platters": PrepTime(4, 2.5, 4, 20),
    "Portion Caesar salad": PrepTime(5, 0.15, 40, 200, 10),
    "Slice cured meats": PrepTime(4, 5.0, 1, 5, 0.5),
    "Make potato salad": PrepTime(8, 2.0, 4, 15),
    "Plate smoked salmon canapés": PrepTime(6, 0.12, 60, 300, 20),
    "Prepare fruit platters": PrepTime(5, 3.0, 4, 20),
    "Peel prawns for cocktail": PrepTime(5, 9.0, 1, 5, 0.5),
    "Reduce veal jus": PrepTime(30, 5.0, 2, 8),
    "Make hollandaise": PrepTime(8, 6.0, 1, 4, 0.5),
    "Blend salsa verde": PrepTime(6, 5.0, 0.5, 3, 0.5),
    "Simmer tomato sugo": PrepTime(25, 1.5, 5, 20),
    "Whisk vinaigrette": PrepTime(3, 2.0, 1, 5),
    "Make béchamel": PrepTime(6, 2.5, 2, 10),
    "Steam mussels in white wine": PrepTime(6, 1.5, 3, 12),
    "Label and date allergen trays": PrepTime(12, 0),
    "Brine pork loins": PrepTime(6, 2.0, 2, 10),
}

# Other ways head chefs write the same job: one kind (public.task_kind gives them one key).
TITLE_VARIANTS: dict[str, tuple[str, ...]] = {
    "Dice onions": ("Onions, diced", "dice ONION", "Diced onions"),
    "Peel and cube potatoes": ("Potatoes, peeled and cubed", "Cube & peel potatoes"),
    "Julienne carrots": ("Carrots, julienned", "julienne CARROT"),
    "Pick and chop parsley": ("Parsley: pick and chop", "Chopped parsley, picked"),
    "Mince garlic": ("Garlic, minced", "Minced garlic"),
    "Slice leeks": ("Leeks, sliced", "sliced LEEK"),
    "Char-grill zucchini": ("Zucchini, char-grilled", "Char grill zucchinis"),
    "Sear beef sirloin": ("Beef sirloin, seared",),
    "Grill halloumi skewers": ("Halloumi skewers, grilled",),
    "Roast root vegetables": ("Root vegetables, roasted", "Roasted root vegetables"),
    "Whip chantilly cream": ("Chantilly cream, whipped", "whip CHANTILLY cream"),
    "Pipe choux buns": ("Choux buns, piped",),
    "Temper dark chocolate": ("Dark chocolate, tempered",),
    "Toast flaked almonds": ("Flaked almonds, toasted",),
    "Assemble caprese platters": ("Caprese platters: assemble",),
    "Slice cured meats": ("Cured meats, sliced",),
    "Make potato salad": ("Potato salad",),
    "Plate smoked salmon canapés": ("Smoked salmon canapés, plated",),
    "Peel prawns for cocktail": ("Prawns for the cocktail, peeled",),
    "Reduce veal jus": ("Veal jus, reduced",),
    "Make hollandaise": ("Hollandaise",),
    "Simmer tomato sugo": ("Tomato sugo, simmered",),
    "Whisk vinaigrette": ("Vinaigrette, whisked",),
    "Make béchamel": ("Béchamel", "make BECHAMEL"),
}

# Related jobs that are another kind, with how much longer (or shorter) they take than
# the job they resemble. The board learns them by borrowing from the similar kind until
# they have history of their own; the benchmark holds them back to test exactly that.
SIMILAR_JOBS: dict[str, tuple[tuple[str, float], ...]] = {
    "Dice onions": (("Dice red onions", 1.1), ("Finely dice onions", 1.3)),
    "Peel and cube potatoes": (("Peel and cube sweet potatoes", 1.1),),
    "Julienne carrots": (("Julienne purple carrots", 1.0),),
    "Slice leeks": (("Slice baby leeks", 1.2),),
    "Mince garlic": (("Mince fresh garlic", 1.0),),
    "Roast 40 chicken thighs": (("Roast chicken drumsticks", 0.9),),
    "Char-grill zucchini": (("Char-grill baby zucchini", 1.1),),
    "Sear beef sirloin": (("Sear beef fillet", 1.1),),
    "Grill halloumi skewers": (("Grill vegetable skewers", 1.2),),
    "Roast root vegetables": (("Roast winter root vegetables", 1.1),),
    "Smoke salmon sides": (("Smoke trout sides", 0.8),),
    "Marinate chicken satay": (("Marinate beef satay", 1.0),),
    "Lemon tart shells": (("Lime tart shells", 1.0),),
    "Whip chantilly cream": (("Whip double cream", 0.9),),
    "Prepare brioche dough": (("Prepare brioche bun dough", 1.2),),
    "Pipe choux buns": (("Pipe mini choux buns", 1.2),),
    "Temper dark chocolate": (("Temper white chocolate", 1.1),),
    "Bake focaccia trays": (("Bake rosemary focaccia trays", 1.05),),
    "Toast flaked almonds": (("Toast flaked hazelnuts", 1.0),),
    "Assemble caprese platters": (("Assemble antipasti platters", 1.3),),
    "Portion Caesar salad": (("Portion chicken Caesar salad", 1.1),),
    "Slice cured meats": (("Slice cooked meats", 0.9),),
    "Make potato salad": (("Make warm potato salad", 1.1),),
    "Plate smoked salmon canapés": (("Plate smoked trout canapés", 1.0),),
    "Prepare fruit platters": (("Prepare tropical fruit platters", 1.2),),
    "Peel prawns for cocktail": (("Peel king prawns", 0.9),),
    "Reduce veal jus": (("Reduce lamb jus", 0.9),),
    "Make hollandaise": (("Make hollandaise with lemon", 1.05),),
    "Blend salsa verde": (("Blend salsa rossa", 1.0),),
    "Simmer tomato sugo": (("Simmer tomato and basil sugo", 1.05),),
    "Whisk vinaigrette": (("Whisk honey vinaigrette", 1.1),),
    "Make béchamel": (("Make cheese béchamel", 1.2),),
    "Steam mussels in white wine": (("Steam clams in white wine", 1.1),),
    "Brine pork loins": (("Brine pork chops", 0.9),),
}

# Each title's base job (itself for a catalogue title).
BASE_TITLE: dict[str, str] = {
    **{t[0]: t[0] for t in TASK_TEMPLATES},
    **{v: base for base, vs in TITLE_VARIANTS.items() for v in vs},
    **{s: base for base, ss in SIMILAR_JOBS.items() for s, _ in ss},
}

# How fast chefs work against the typical chef (a chef keeps one speed all day).
CHEF_SPEEDS: tuple[float, ...] = (0.85, 0.95, 1.0, 1.05, 1.15, 1.25)
NOISE_SIGMA = 0.2  # day-to-day spread of one chef's time (log-normal)
INTERRUPTED = 0.04  # share of jobs where the chef is pulled away for a while


@dataclass(frozen=True)
class PrepJob:
    """A task as drawn for a kitchen, with what the simulation needs to time it."""

    title: str
    base: str  # the catalogue job it is (or resembles)
    quantity: float | None
    unit: str | None
    station: str
    factor: float = 1.0  # a similar job's time against its base job's
    similar: bool = False  # another kind than the base job

    def typical_minutes(self) -> float:
        return PREP_TIMES[self.base].minutes(self.quantity) * self.factor


def draw_job(
    rng: random.Random,
    *,
    variants: float = 0.25,
    similar: float = 0.08,
    templates: tuple[tuple[str, float | None, str | None, str], ...] = TASK_TEMPLATES,
) -> PrepJob:
    """A catalogue job with a quantity from its range, written as the base title, one of
    its variants (share `variants`) or, for jobs that have them, a similar job (share
    `similar`)."""
    base, default_q, unit, station = rng.choice(templates)
    times = PREP_TIMES[base]
    quantity = default_q
    if default_q is not None and times.high > times.low:
        steps = round((times.high - times.low) / times.step)
        quantity = times.low + times.step * rng.randint(0, steps)
        quantity = int(quantity) if float(quantity).is_integer() else quantity
    title, factor, is_similar = base, 1.0, False
    roll = rng.random()
    if roll < similar and base in SIMILAR_JOBS:
        title, factor = rng.choice(SIMILAR_JOBS[base])
        is_similar = True
    elif roll < similar + variants and base in TITLE_VARIANTS:
        title = rng.choice(TITLE_VARIANTS[base])
    if default_q is not None and quantity is not None and str(int(default_q)) in title.split():
        # "Roast 40 chicken thighs": the title says the quantity, so say the drawn one.
        title = title.replace(str(int(default_q)), f"{quantity:g}")
    return PrepJob(title, base, quantity, unit, station, factor, is_similar)


def chef_speed(staff_id: str) -> float:
    """A chef's speed factor: stable for one staff id (so runs are repeatable)."""
    digest = hashlib.sha256(staff_id.encode()).digest()
    return CHEF_SPEEDS[digest[0] % len(CHEF_SPEEDS)]


def prep_minutes(job: PrepJob, speed: float, rng: random.Random) -> float:
    """How long this job really takes this chef today: the typical time x the chef's
    speed x log-normal noise, sometimes much longer (pulled away), within 1 min..4 h."""
    minutes = job.typical_minutes() * speed * math.exp(rng.gauss(0, NOISE_SIGMA))
    if rng.random() < INTERRUPTED:
        minutes *= rng.uniform(1.4, 2.2)
    return min(max(minutes, 1.0), 240.0)


def allergens_for(title: str) -> list[str]:
    """The allergen words of a catalogue task (or a variant of one), as the
    tasks.allergens column takes them."""
    return list(ALLERGENS_BY_TITLE.get(BASE_TITLE.get(title, title), ()))


__all__ = [
    "ALLERGENS_BY_TITLE",
    "BASE_TITLE",
    "CHEF_SPEEDS",
    "DEMO_STAFF",
    "NOTES",
    "NOTES_BY_TITLE",
    "PREP_TIMES",
    "SIMILAR_JOBS",
    "STATIONS",
    "TASK_TEMPLATES",
    "TITLE_VARIANTS",
    "PrepJob",
    "PrepTime",
    "allergens_for",
    "chef_speed",
    "draw_job",
    "prep_minutes",
]
