"""Every Altair chart the pages draw, built from values core returns; pure functions.

- ``maps``: a collection's interactive map (Explore) and a few words' maps and cosines (Words).
- ``layers``: the model's insides (Context, How it works): heat maps, per-layer lines and bars.

Pages use ``from ui import charts`` and ``charts.<name>``; the names are re-exported here.
"""

from ui.charts.layers import (
    drift_chart,
    heat,
    layer_bars,
    pair_chart,
    path_chart,
    removal_chart,
    senses_chart,
)
from ui.charts.maps import (
    DRAW_LIMIT,
    HELP,
    MAX_COLOURS,
    RECALL,
    colour_fields,
    density,
    draw_sample,
    heatmap,
    limit_categories,
    map_chart,
    selected_points,
    words_map,
)

__all__ = [
    "DRAW_LIMIT",
    "HELP",
    "MAX_COLOURS",
    "RECALL",
    "colour_fields",
    "density",
    "draw_sample",
    "drift_chart",
    "heat",
    "heatmap",
    "layer_bars",
    "limit_categories",
    "map_chart",
    "pair_chart",
    "path_chart",
    "removal_chart",
    "selected_points",
    "senses_chart",
    "words_map",
]
