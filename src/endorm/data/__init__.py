"""Data in: where data and models come from (``sources``, ``manifest``, ``assets``), one adapter per data set
(``adapters/``), the rows each family is made of (``pairs``, ``mathdata``, ``promptable``) and reading a math
answer (``answers``, which the math adapters need to take gold answers). Above the core, below the methods."""
