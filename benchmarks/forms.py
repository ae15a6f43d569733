"""Request bodies for the benchmark: multipart forms as the SDK sends them, and a 1 MB image."""

from __future__ import annotations

import secrets
from pathlib import Path

MEBIBYTE = 1024 * 1024


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]] | None = None) -> tuple[str, bytes]:
    """(content type, body) for text fields and files given as name -> (filename, content type, data)."""
    boundary = f"----bench{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in (files or {}).items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def padded_jpeg(source: Path, size: int = MEBIBYTE) -> bytes:
    """A valid JPEG of exactly `size` bytes: `source` with comment (COM) segments after its SOI
    marker, so any JPEG reader still decodes the same picture."""
    data = source.read_bytes()
    if data[:2] != b"\xff\xd8":
        raise ValueError(f"{source} is not a JPEG")
    padding = bytearray()
    room = size - len(data)
    while room > 4:
        chunk = min(room - 4, 65533)  # a segment's length field counts itself and is 16 bits
        padding += b"\xff\xfe" + (chunk + 2).to_bytes(2, "big") + b"\x00" * chunk
        room = size - len(data) - len(padding)
    body = data[:2] + bytes(padding) + data[2:]
    return body + b"\x00" * (size - len(body))  # bytes after EOI are ignored by readers
