"""Page sections too long for a page: each function takes values core computed and draws them
(charts from ``ui.charts``, HTML from ``ui.markup``, text through ``ui.components.say``).

One module per page that needs one; widgets and the calls into core stay in the page.
"""
