"""The HTTP surface: the app and its one request pipeline, the video API's handlers, inputs and wire shapes.

May import: `core`, `store`, `contract`, `profiles` and `control` (whose routes and per-request faults and
journal the app mounts). Nothing below imports `http`.
"""
