"""The HTTP surface: the app and its Server, the one request pipeline, the one routing table, the video
API's handlers, auth, the inputs they validate against the contract and the wire shapes they answer with.

May import: `core`, `store`, `contract`, `profiles`, `control` (whose guard, faults and journal the
pipeline applies, and whose routes the app mounts), `ui` (the dashboard's files, mounted too) and
`config`. Nothing but start-up imports `http`.
"""
