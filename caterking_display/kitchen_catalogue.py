"""Realistic catering prep work: the demo seed and the simulator draw from here."""

from __future__ import annotations

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


def allergens_for(title: str) -> list[str]:
    """The allergen words of a catalogue task, as the tasks.allergens column takes them."""
    return list(ALLERGENS_BY_TITLE.get(title, ()))


__all__ = [
    "ALLERGENS_BY_TITLE",
    "DEMO_STAFF",
    "NOTES",
    "NOTES_BY_TITLE",
    "STATIONS",
    "TASK_TEMPLATES",
    "allergens_for",
]
