"""The tables and figures' data: what they share (``common``), one builder per table (``table1``, ``table2``,
``figure1``, ``table3``, ``analysis_tables``, ``theory_tables``), the rehearsal's page (``publish``)."""
