"""Media that shows the job: each completed job's video, thumbnail and spritesheet, drawn for it.

The frames carry the job's id, model, size, seconds, the start of its prompt and (for a remix,
edit or extension) its source's id, beside a test pattern, a frame counter and a clock; they are
exactly the size and length the job asked for. Everything drawn is derived from the job record
(spec.py), so any worker sharing a store renders the same bytes for the same job.

- spec.py      what a job's media shows (MediaSpec), and whether it can be rendered at all;
- picture.py   drawing one frame with Pillow (the `media` extra);
- encode.py    H.264 MP4, WebP and JPEG with PyAV (the `media` extra), deterministically;
- cache.py     the bounded on-disk LRU cache the files live in;
- settings.py  how `serve` is told about it (flags, the config file's `media:` section);
- source.py    MediaSource: the bounded render pool, the wait on a first download, and the
               fall-back to the committed fixtures (core/media.py) when rendering is off
               or fails.

Only picture.py and encode.py import Pillow and PyAV, so the server runs without the extra.

May import: `core` (the job record, the fixtures' MediaLibrary). Never `store`, `contract`,
`profiles`, `control` or `http`; `http` imports it, `core` only names the protocol it meets (JobMedia).
"""
