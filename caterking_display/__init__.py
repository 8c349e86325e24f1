"""CaterKing Display: the kitchen task board."""

__version__ = "0.1.0"
