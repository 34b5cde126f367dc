"""Real, decodable outputs: a small H.264 MP4 for video operations and a WAV for sound effects.

Each is generated once per process and cached. A padded MP4 is the cached file followed by one
top-level `free` box (players skip it), streamed in chunks so GiB-sized outputs never sit in memory.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass

VIDEO_WIDTH = 160
VIDEO_HEIGHT = 90
VIDEO_FPS = 24
VIDEO_SECONDS = 1
AUDIO_RATE = 16_000
AUDIO_SECONDS = 1
CHUNK_SIZE = 1024 * 1024
_ZERO_CHUNK = bytes(CHUNK_SIZE)
# A box whose size fits 32 bits uses the short header; bigger ones need the 64-bit "largesize" form.
_SHORT_BOX_LIMIT = 2**32 - 1

_media_lock = threading.Lock()


@functools.cache
def _encode_mp4() -> bytes:
    # Imported here: PyAV and numpy are heavy and only the output route needs them.
    import av  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS)
        stream.width = VIDEO_WIDTH
        stream.height = VIDEO_HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        columns = np.arange(VIDEO_WIDTH, dtype=np.int32)
        rows = np.arange(VIDEO_HEIGHT, dtype=np.int32)[:, None]
        for index in range(VIDEO_FPS * VIDEO_SECONDS):
            # A moving colour gradient: frames differ, so the encoder produces real P-frames.
            image = np.empty((VIDEO_HEIGHT, VIDEO_WIDTH, 3), dtype=np.uint8)
            image[..., 0] = (columns + index * 8) % 256
            image[..., 1] = (rows * 2 + index * 4) % 256
            image[..., 2] = 128
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def mp4_bytes() -> bytes:
    """The cached MP4 (H.264, 160x90, 1 s)."""
    with _media_lock:  # Encode once even when several requests arrive together.
        return _encode_mp4()


@functools.cache
def wav_bytes() -> bytes:
    """The cached WAV (16-bit mono PCM, 1 s, a 440 Hz tone that fades out)."""
    frames = bytearray()
    for index in range(AUDIO_RATE * AUDIO_SECONDS):
        envelope = 1.0 - index / (AUDIO_RATE * AUDIO_SECONDS)
        sample = int(12_000 * envelope * math.sin(2 * math.pi * 440 * index / AUDIO_RATE))
        frames += struct.pack("<h", sample)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(AUDIO_RATE)
        writer.writeframes(bytes(frames))
    return buffer.getvalue()


def free_box_header(box_size: int) -> bytes:
    """Header of an ISO BMFF `free` box of `box_size` bytes in total (header included)."""
    if box_size <= _SHORT_BOX_LIMIT:
        return struct.pack(">I4s", box_size, b"free")
    return struct.pack(">I4sQ", 1, b"free", box_size)


def padding_box_size(padding_bytes: int) -> int:
    """Size of the `free` box that carries `padding_bytes` (never smaller than its own header)."""
    if padding_bytes <= 0:
        return 0
    header = 8 if padding_bytes <= _SHORT_BOX_LIMIT else 16
    return max(padding_bytes, header)


@dataclass(frozen=True)
class OutputFile:
    """An output as served: cached content plus an optional streamed `free` box."""

    content: bytes
    content_type: str
    padding_box_size: int = 0

    @property
    def size(self) -> int:
        return len(self.content) + self.padding_box_size

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end] (inclusive), in chunks of at most CHUNK_SIZE."""
        position = start
        content_end = len(self.content)
        while position <= end and position < content_end:
            stop = min(end + 1, content_end, position + CHUNK_SIZE)
            yield self.content[position:stop]
            position = stop
        if self.padding_box_size == 0 or position > end:
            return
        header = free_box_header(self.padding_box_size)
        header_end = content_end + len(header)
        if position < header_end:
            stop = min(end + 1, header_end)
            yield header[position - content_end : stop - content_end]
            position = stop
        while position <= end:
            length = min(end + 1 - position, CHUNK_SIZE)
            yield _ZERO_CHUNK[:length]
            position += length


def output_file(kind: str, padding_bytes: int) -> OutputFile:
    if kind == "audio":
        return OutputFile(wav_bytes(), "audio/wav")
    return OutputFile(mp4_bytes(), "video/mp4", padding_box_size(padding_bytes))
