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
    ("Bake lemon tarts", 48, "pcs", "Pastry"),
    ("Whip chantilly cream", 3, "L", "Pastry"),
    ("Prepare brioche dough", 4, "kg", "Pastry"),
    ("Pipe choux buns", 120, "pcs", "Pastry"),
    ("Temper dark chocolate", 2, "kg", "Pastry"),
    ("Bake focaccia trays", 6, "trays", "Pastry"),
    ("Assemble caprese platters", 10, "platters", "Cold"),
    ("Portion Caesar salad", 80, "portions", "Cold"),
    ("Slice cured meats", 3, "kg", "Cold"),
    ("Make potato salad", 8, "kg", "Cold"),
    ("Plate smoked salmon canapés", 150, "pcs", "Cold"),
    ("Prepare fruit platters", 12, "platters", "Cold"),
    ("Reduce veal jus", 4, "L", "Sauce"),
    ("Make hollandaise", 2, "L", "Sauce"),
    ("Blend salsa verde", 1.5, "L", "Sauce"),
    ("Simmer tomato sugo", 10, "L", "Sauce"),
    ("Whisk vinaigrette", 3, "L", "Sauce"),
    ("Make béchamel", 5, "L", "Sauce"),
    ("Label and date allergen trays", None, None, "Prep"),
    ("Brine pork loins", 6, "pcs", "Prep"),
)

NOTES: tuple[str, ...] = (
    "",
    "For the Henley wedding, 120 covers",
    "Gluten-free batch: separate boards",
    "Corporate lunch, Dock St",
    "Nut-free: label clearly",
    "",
)

__all__ = ["DEMO_STAFF", "NOTES", "STATIONS", "TASK_TEMPLATES"]
