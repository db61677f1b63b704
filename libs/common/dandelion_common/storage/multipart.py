"""Multipart uploads: started and completed by the API, parts PUT by clients at presigned URLs
(or by this process for manifests and tools), and listed for garbage collection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from dandelion_common.errors import StorageError
from dandelion_common.sigv4 import UploadPartSigner
from dandelion_common.storage.core import StorageCore, error_code


def complete_multipart_body(parts: list[tuple[int, str]]) -> str:
    """The CompleteMultipartUpload XML body for (part_number, etag) pairs."""
    items = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>&quot;{escape(etag.strip(chr(34)))}&quot;</ETag></Part>"
        for n, etag in parts
    )
    header = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{header}<CompleteMultipartUpload>{items}</CompleteMultipartUpload>"


@dataclass(frozen=True)
class MultipartUploadInfo:
    key: str
    upload_id: str
    initiated: datetime  # UTC


class MultipartUploads(StorageCore):
    """The multipart-upload calls of `S3Storage`."""

    async def create_multipart_upload(self, key: str, *, tagging: str | None = None) -> str:
        extra = {"Tagging": tagging} if tagging else {}
        response = await self._call("create_multipart_upload", Key=key, **extra)
        return str(response["UploadId"])

    async def abort_multipart_upload_if_exists(self, key: str, upload_id: str) -> bool:
        """Abort an upload; False if S3 does not know it (some servers, SeaweedFS among them,
        also accept aborting an upload that is already aborted or completed)."""
        try:
            await self._call("abort_multipart_upload", Key=key, UploadId=upload_id)
        except StorageError as exc:
            if error_code(exc.__cause__) in ("NoSuchUpload", "404", "NotFound"):
                return False
            raise
        return True

    async def list_multipart_uploads(
        self, prefix: str = "", *, page_size: int = 1000
    ) -> AsyncIterator[MultipartUploadInfo]:
        """The multipart uploads in progress under `prefix`, in the server's order."""
        markers: dict[str, str] = {}
        seen: set[tuple[tuple[str, str], ...]] = set()
        while True:
            page = await self._call(
                "list_multipart_uploads", Prefix=prefix, MaxUploads=page_size, **markers
            )
            for item in page.get("Uploads", []):
                yield MultipartUploadInfo(
                    key=str(item["Key"]),
                    upload_id=str(item["UploadId"]),
                    initiated=item["Initiated"].astimezone(UTC),
                )
            # AWS sends both next markers; SeaweedFS only NextUploadIdMarker (and pages by it).
            markers = {
                name: str(page[f"Next{name}"])
                for name in ("KeyMarker", "UploadIdMarker")
                if page.get(f"Next{name}")
            }
            position = tuple(sorted(markers.items()))
            if not page.get("IsTruncated") or not markers or position in seen:
                return
            seen.add(position)

    def presign_upload_parts(self, key: str, upload_id: str, part_numbers: list[int]) -> list[str]:
        """Presigned UploadPart URLs for many parts at once, byte-identical to botocore's."""
        settings = self.settings
        signer = UploadPartSigner(
            endpoint_url=settings.presign_endpoint_url,
            region=settings.region,
            access_key=settings.access_key_id,
            secret_key=settings.secret_access_key.get_secret_value(),
            bucket=self.bucket,
            key=key,
            upload_id=upload_id,
            expires=settings.upload_url_expiry_seconds,
            now=datetime.now(UTC),
        )
        return [signer.url(n) for n in part_numbers]

    async def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """Upload one part from this process (manifests, tools; clients use presigned URLs)."""
        response = await self._call(
            "upload_part", Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return str(response["ETag"]).strip('"')

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> None:
        body = {"Parts": [{"PartNumber": n, "ETag": f'"{etag}"'} for n, etag in parts]}
        await self._call(
            "complete_multipart_upload", Key=key, UploadId=upload_id, MultipartUpload=body
        )

    async def presign_complete(self, key: str, upload_id: str) -> str:
        return await self._presign(
            "complete_multipart_upload",
            {"Key": key, "UploadId": upload_id},
            self.settings.upload_url_expiry_seconds,
            method="POST",
        )
