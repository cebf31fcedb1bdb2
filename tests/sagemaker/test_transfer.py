"""Uploads happen once per run and never mix data sets; downloads stay inside their folder (moto's server)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker.transfer import SHA256_METADATA, download_prefix, file_sha256, local_files, upload_files
from splatkit.sagemaker.uris import S3Uri

pytest.importorskip("moto")
pytest.importorskip("boto3")

_buckets = itertools.count()


@pytest.fixture
def prefix(aws_clients: dict[str, Any]) -> S3Uri:
    bucket = f"splatkit-transfer-{next(_buckets)}"
    aws_clients["s3"].create_bucket(Bucket=bucket)
    return S3Uri(bucket, "runs/r1/input/photos/")


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "IMG_1.JPG").write_bytes(b"one")
    (root / "sub").mkdir()
    (root / "sub" / "IMG_2.JPG").write_bytes(b"two")
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._IMG_1.JPG").write_bytes(b"junk")
    (root / "out").mkdir()
    (root / "out" / "report.json").write_text("{}")
    return root


def test_local_files_leave_out_junk_and_the_output_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos")
    assert [rel for rel, _ in local_files(folder, exclude=[folder / "out"])] == ["IMG_1.JPG", "sub/IMG_2.JPG"]


def test_a_second_upload_sends_nothing(aws_clients: dict[str, Any], prefix: S3Uri, tmp_path: Path) -> None:
    s3 = aws_clients["s3"]
    files = local_files(_folder(tmp_path / "photos"), exclude=[tmp_path / "photos" / "out"])
    first = upload_files(s3, files, prefix, what="the photos")
    assert first.uploaded == ("IMG_1.JPG", "sub/IMG_2.JPG") and first.skipped == ()
    head = s3.head_object(Bucket=prefix.bucket, Key=prefix.key + "sub/IMG_2.JPG")
    assert head["Metadata"] == {SHA256_METADATA: file_sha256(tmp_path / "photos" / "sub" / "IMG_2.JPG")}
    again = upload_files(s3, files, prefix, what="the photos")
    assert again.uploaded == () and again.skipped == ("IMG_1.JPG", "sub/IMG_2.JPG")


def test_other_data_under_the_same_prefix_is_refused(aws_clients: dict[str, Any], prefix: S3Uri,
                                                     tmp_path: Path) -> None:
    s3 = aws_clients["s3"]
    folder = _folder(tmp_path / "photos")
    upload_files(s3, local_files(folder, exclude=[folder / "out"]), prefix, what="the photos")
    (folder / "IMG_1.JPG").write_bytes(b"ONE")  # same size, other bytes
    with pytest.raises(InputError, match="IMG_1.JPG already exists with other content.*new run id"):
        upload_files(s3, local_files(folder, exclude=[folder / "out"]), prefix, what="the photos")
    with pytest.raises(InputError, match=r"already holds files that are not in the photos \(IMG_1.JPG\)"):
        upload_files(s3, [("sub/IMG_2.JPG", folder / "sub" / "IMG_2.JPG")], prefix, what="the photos")
    with pytest.raises(InputError, match="nothing to upload"):
        upload_files(s3, [], prefix, what="the photos")


def test_downloads_refuse_keys_that_leave_the_folder(aws_clients: dict[str, Any], prefix: S3Uri,
                                                     tmp_path: Path) -> None:
    s3 = aws_clients["s3"]
    s3.put_object(Bucket=prefix.bucket, Key=prefix.key + "a/b.txt", Body=b"b")
    s3.put_object(Bucket=prefix.bucket, Key=prefix.key + "folder/", Body=b"")
    assert download_prefix(s3, prefix, tmp_path / "ok") == [tmp_path / "ok" / "a" / "b.txt"]
    s3.put_object(Bucket=prefix.bucket, Key=prefix.key + "../escape.txt", Body=b"x")
    with pytest.raises(InputError, match=r"object name '\.\./escape\.txt' cannot be saved"):
        download_prefix(s3, prefix, tmp_path / "bad")
    assert not (tmp_path / "escape.txt").exists()
