"""Avatar uploads: validated, size-limited, and re-encoded.

Re-encoding drops everything but the pixels (EXIF with GPS positions,
embedded scripts in polyglot files), and fixes the size we serve.
"""

from __future__ import annotations

import io
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

from hubbub.core.errors import ValidationFailed

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
# 16 megapixels: any camera photo, while a small file that claims a huge
# canvas (a decompression bomb) is refused before it is decoded.
MAX_PIXELS = 16_000_000
AVATAR_SIZE = 256
WORKING_SIZE = (4 * AVATAR_SIZE, 4 * AVATAR_SIZE)


def store_avatar(data: bytes) -> str:
    """Validate and re-encode an uploaded image; return its storage name.

    Raises ValidationFailed with a message fit for the person uploading.
    """
    limit = settings.HUBBUB_AVATAR_MAX_BYTES
    if len(data) > limit:
        raise ValidationFailed(
            f"The image is {len(data) // 1024} KB; the limit is {limit // 1024} KB.",
            code="avatar_too_large",
            field="avatar",
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            width, height = probe.size
            if image_format not in ALLOWED_FORMATS:
                raise ValidationFailed(
                    "Upload a PNG, JPEG, WebP or GIF image.", code="avatar_format", field="avatar"
                )
            if width * height > MAX_PIXELS:
                raise ValidationFailed(
                    "The image has too many pixels.", code="avatar_too_large", field="avatar"
                )
            probe.seek(0)
            # Shrink first (JPEG decodes at a fraction of its size), then
            # convert: memory stays proportional to the working size.
            probe.draft("RGB", WORKING_SIZE)
            probe.thumbnail(WORKING_SIZE)
            image = ImageOps.exif_transpose(probe).convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValidationFailed(
            "That file is not an image we can read.", code="avatar_format", field="avatar"
        ) from error
    square = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, format="WEBP", quality=85)
    return default_storage.save(f"avatars/{uuid.uuid4().hex}.webp", ContentFile(out.getvalue()))


def delete_avatar(name: str) -> None:
    if name:
        default_storage.delete(name)
