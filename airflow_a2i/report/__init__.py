"""The review report: how good a run's reviewed results are, and which activation conditions to set.

Read from the results operator's JSON Lines (one run or several): :mod:`.data` (rows as pages and fields),
:mod:`.figures` (volume, quality, people), :mod:`.estimates` (errors nobody reviewed, estimated from Sampling's
random reviews; the threshold curve), :mod:`.per_key` (a threshold per key), :mod:`.recommend` (conditions for a
target accuracy or a review budget),
:mod:`.build` (all figures as one JSON document). Those are pure. :mod:`.render` writes the self-contained HTML
page (plots with matplotlib, the ``[report]`` extra, imported only there) and :mod:`.files` reads and writes
local paths and S3.
"""
