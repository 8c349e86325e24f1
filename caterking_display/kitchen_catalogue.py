"""Realistic catering prep work: the demo seed and the simulator draw from here."""

from __future__ import annotations

from typing import NamedTuple


class TaskTemplate(NamedTuple):
    title: str
    quantity: float | None
    unit: str | None
    station: str
    minutes: int  # typical prep time


STATIONS = ("Prep", "Grill", "Pastry", "Cold", "Sauce")

TASKS: tuple[TaskTemplate, ...] = (
    TaskTemplate("Dice onions", 12, "kg", "Prep", 25),
    TaskTemplate("Peel and quarter potatoes", 20, "kg", "Prep", 40),
    TaskTemplate("Pick and wash herbs", 6, "bunch", "Prep", 15),
    TaskTemplate("Brunoise carrots for mirepoix", 4, "kg", "Prep", 20),
    TaskTemplate("Portion salmon fillets", 60, "pcs", "Prep", 30),
    TaskTemplate("Marinate chicken thighs", 40, "pcs", "Grill", 20),
    TaskTemplate("Roast chicken thighs", 40, "pcs", "Grill", 45),
    TaskTemplate("Char-grill courgettes", 5, "kg", "Grill", 30),
    TaskTemplate("Sear beef sirloin", 8, "kg", "Grill", 35),
    TaskTemplate("Skewer halloumi and peppers", 80, "pcs", "Grill", 40),
    TaskTemplate("Lemon tarts: blind bake cases", 48, "pcs", "Pastry", 35),
    TaskTemplate("Whip chantilly cream", 3, "l", "Pastry", 10),
    TaskTemplate("Chocolate brownies", 2, "tray", "Pastry", 50),
    TaskTemplate("Plate petits fours", 120, "pcs", "Pastry", 30),
    TaskTemplate("Proof bread rolls", 150, "pcs", "Pastry", 60),
    TaskTemplate("Caesar salad mise en place", 80, "cover", "Cold", 25),
    TaskTemplate("Slice smoked salmon canapés", 150, "pcs", "Cold", 40),
    TaskTemplate("Dress potato salad", 6, "kg", "Cold", 15),
    TaskTemplate("Assemble crudité platters", 10, "platter", "Cold", 30),
    TaskTemplate("Gazpacho: blend and chill", 8, "l", "Cold", 20),
    TaskTemplate("Reduce veal jus", 4, "l", "Sauce", 90),
    TaskTemplate("Hollandaise for service", 2, "l", "Sauce", 15),
    TaskTemplate("Romesco sauce", 1.5, "l", "Sauce", 20),
    TaskTemplate("Salsa verde", 1, "l", "Sauce", 10),
    TaskTemplate("Beurre blanc base", 2, "l", "Sauce", 20),
    TaskTemplate("Label and date cold store", None, None, "Prep", 10),
    TaskTemplate("Allergen check: table 12 (nut-free)", None, None, "Cold", 5),
)

STAFF_NAMES: tuple[tuple[str, str], ...] = (
    ("Maria Lopez", "ML"),
    ("Ben Okafor", "BO"),
    ("Aisha Khan", "AK"),
    ("Tom Fischer", "TF"),
    ("Sofia Rossi", "SR"),
    ("Jamal Reid", "JR"),
)
