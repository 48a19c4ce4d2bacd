"""Display: read models in, rich renderables or JSON out. The only place that imports rich.

``console`` holds ``make_console`` and ``render``, one ``singledispatch`` registry (``base``) on
which the modules of each concept (school, schedule, lessons, sessions, money, resume, runs,
reports) register their renderers; ``week`` draws the week grid; ``jsonout`` and ``csvout`` write
the same read models as JSON and CSV.
"""
