"""The built-in color migration engine: AILabTools' retired endpoint, run on our own workers.

The parameters are the vendor's (vendor-contracts.md §2.2, which mirror Alibaba's
``RecolorHDImage``): ``mode`` AUTO | TEMPLATE | REF_PIC, ``degree`` in [0, 1], ``color_count``
1-8 (AUTO: one result per color family) and ``color_template`` of 1-7 hex colors (TEMPLATE).

How it stays fast and light on 48-megapixel photos: every statistic comes from a copy of at most
512 px (libjpeg decodes JPEGs straight at 1/2-1/8 scale through ``Image.draft``); the color
transform is worked out in OKLab on the 33³ points of a lookup table only; and the full-resolution
photo is touched once per result, by Pillow's C ``Color3DLUT`` filter, in strips spread over a few
threads (the filter releases the GIL). A JPEG's full-size decode runs beside the statistics and
the tables, which need only the reduced copy. No full-resolution float array ever exists.

``adapter`` reads the request and the photos and writes the results; ``color`` works out, from a
photo's colors, the lookup table of each result.
"""
