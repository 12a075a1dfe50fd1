"""Benchmarks: RM-Bench's metric and any scores file's accuracy (``metrics``), DSP and Multifaceted
(``promptable``), the math evaluation (``lmeval``) and its grader check (``gradercheck``), and the paper's printed
numbers (``paper``) that tables and ablations compare against."""
