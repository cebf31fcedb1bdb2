"""S3 URIs: parse every form a user may paste, check the bucket name, normalise to ``s3://bucket/key``.

Accepted forms (``region`` is kept when the URL names one; China regions only on ``.com.cn``):

=====================================================  ==============================================
``s3://bucket/key``                                    the form SageMaker's docs use; the key is literal
``https://bucket.s3.amazonaws.com/key``                virtual-hosted, global endpoint
``https://bucket.s3.REGION.amazonaws.com/key``         virtual-hosted, regional (also ``s3-REGION``,
                                                       ``s3.dualstack.REGION``)
``https://s3.REGION.amazonaws.com/bucket/key``         path-style (also ``s3.amazonaws.com``,
                                                       ``s3-REGION``, ``s3.dualstack.REGION``)
``https://bucket.s3.cn-north-1.amazonaws.com.cn/key``  the China partition, regional endpoints only
=====================================================  ==============================================

The key of an ``https://`` URL is percent-decoded (it is a URL path); the key of an ``s3://`` URI
is taken as written. Everything else is refused with an :class:`~splatkit.errors.InputError` that
quotes the URI and says how to fix it: ``http://`` (unencrypted), other schemes, hosts that only
look like S3 (``bucket.s3.amazonaws.com.evil.com``), ports, user names, query strings (presigned
URLs) and fragments, keys with control characters, URIs over SageMaker's 1024-character limit
and bucket names that break the S3 naming rules (see :func:`check_bucket_name`).

Sources: S3 bucket naming rules
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html) and endpoint forms
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html); the 1024 limit and
the ``(https|s3)://`` pattern are botocore's ``S3Uri`` shape of the SageMaker model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from splatkit.errors import InputError

__all__ = [
    "MAX_S3_URI_LENGTH",
    "S3Uri",
    "check_bucket_name",
    "parse_s3_uri",
]

#: Longest ``S3Uri`` SageMaker accepts (botocore's ``S3Uri`` shape, ``max``).
MAX_S3_URI_LENGTH = 1024

# An AWS region name: us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1, eu-central-2 ...
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
# The S3 endpoint label(s) after a virtual-hosted bucket or as a path-style host, with the
# optional region: s3 | s3.REGION | s3-REGION | s3.dualstack.REGION.
_ENDPOINT = rf"s3(?:[.-](?P<region>{_REGION})|\.dualstack\.(?P<dualstack_region>{_REGION}))?"
_DOMAIN = r"amazonaws\.com(?P<china>\.cn)?"
_VIRTUAL_HOST = re.compile(rf"(?P<bucket>.+)\.{_ENDPOINT}\.{_DOMAIN}")
_PATH_HOST = re.compile(rf"{_ENDPOINT}\.{_DOMAIN}")

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# Reserved by S3 for other bucket types and access points (bucketnamingrules.html).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class S3Uri:
    """A checked S3 location.

    Attributes
    ----------
    bucket : str
        A valid general-purpose bucket name.
    key : str
        The object key or key prefix, without the leading ``/``; may be empty (the bucket root).
    region : str or None
        The region named by the URL it was parsed from, if any. Not part of equality: the same
        object has one ``s3://`` name whatever endpoint was pasted.
    """

    bucket: str
    key: str = ""
    region: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_bucket_name(self.bucket, uri=f"s3://{self.bucket}/{self.key}")
        uri = f"s3://{self.bucket}/{self.key}"
        if self.key.startswith("/"):
            raise _bad(uri, "has a key starting with '/'", "remove the extra '/' after the bucket name")
        _check_key(uri, self.key)

    @property
    def uri(self) -> str:
        """The normalised ``s3://bucket/key`` form."""
        return f"s3://{self.bucket}/{self.key}"

    def __str__(self) -> str:
        return self.uri

    def as_prefix(self) -> S3Uri:
        """This location with exactly one trailing ``/``.

        SageMaker's ``S3Prefix`` matches every key that *starts with* the prefix, so
        ``s3://b/run/sfm`` would also pull in ``s3://b/run/sfm-old/...``; folders are always
        addressed with the slash.
        """
        key = self.key.rstrip("/")
        return S3Uri(self.bucket, f"{key}/" if key else "", self.region)

    def child(self, *parts: str) -> S3Uri:
        """The location ``self/part1/part2...`` (no empty, ``.`` or ``..`` segments; no trailing ``/``)."""
        segments = [p for part in parts for p in part.split("/")]
        if not segments or any(s in ("", ".", "..") for s in segments):
            raise InputError(f"S3 path parts {parts!r} under {self.uri!r} contain an empty, '.' or '..' "
                             "segment; name each folder explicitly")
        base = self.key.rstrip("/")
        key = "/".join(([base] if base else []) + segments)
        return S3Uri(self.bucket, key, self.region)


def _bad(uri: str, problem: str, fix: str) -> InputError:
    return InputError(f"S3 URI {uri!r} {problem}: {fix}")


def _check_key(uri: str, key: str) -> None:
    if _CONTROL.search(key):
        raise _bad(uri, "has a control character in its key", "rename the object without control characters")
    if "?" in key or "#" in key:
        # Keeps every S3Uri printable as a URI that parse_s3_uri reads back.
        raise _bad(uri, "has '?' or '#' in its key", "rename the object without them")
    if key != key.strip():
        # A pasted URI is stripped of surrounding spaces by nobody: refuse rather than guess.
        raise _bad(uri, "has a key that starts or ends with whitespace", "remove the spaces around the key")
    if len(uri) > MAX_S3_URI_LENGTH:
        raise _bad(uri, f"is {len(uri)} characters long", f"SageMaker accepts at most {MAX_S3_URI_LENGTH}; "
                   "use a shorter prefix")


def check_bucket_name(bucket: str, *, uri: str | None = None) -> str:
    """Return ``bucket`` if it is a valid general-purpose S3 bucket name, else raise InputError.

    Rules (bucketnamingrules.html): 3-63 characters of lower-case letters, digits, ``.`` and
    ``-``; starts and ends with a letter or digit; no ``..``; not shaped like an IPv4 address;
    none of the prefixes and suffixes S3 reserves for other bucket types and access points.
    Legacy us-east-1 buckets with capitals or ``_`` are refused too: SageMaker cannot address
    them over virtual-hosted HTTPS.
    """
    where = uri if uri is not None else f"s3://{bucket}/"

    def bad(problem: str, fix: str = "use a valid bucket name (see the S3 bucket naming rules)") -> InputError:
        return _bad(where, f"has an invalid bucket name {bucket!r} ({problem})", fix)

    if not 3 <= len(bucket) <= 63:
        raise bad(f"{len(bucket)} characters, S3 allows 3 to 63")
    if not _BUCKET_CHARS.fullmatch(bucket):
        raise bad("only lower-case letters, digits, '.' and '-' are allowed")
    if not (bucket[0].isalnum() and bucket[-1].isalnum()):
        raise bad("it must start and end with a letter or digit")
    if ".." in bucket:
        raise bad("two adjacent periods")
    if _IPV4.fullmatch(bucket):
        raise bad("it is formatted as an IP address")
    for prefix in _RESERVED_PREFIXES:
        if bucket.startswith(prefix):
            raise bad(f"the prefix {prefix!r} is reserved by S3")
    for suffix in _RESERVED_SUFFIXES:
        if bucket.endswith(suffix):
            raise bad(f"the suffix {suffix!r} is reserved by S3 for access points and other bucket types")
    return bucket


def _split_scheme(text: str) -> tuple[str, str]:
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise _bad(text, "has no scheme", "write it as s3://bucket/key")
    return scheme.lower(), rest


def parse_s3_uri(text: str) -> S3Uri:
    """Parse an S3 location in any accepted form (see the module docstring).

    Parameters
    ----------
    text : str
        ``s3://bucket/key`` or an ``https://`` S3 URL.

    Returns
    -------
    S3Uri
        The checked location; ``str()`` of it is the normalised ``s3://bucket/key``.

    Raises
    ------
    InputError
        One line quoting ``text``: what is wrong and how to fix it.
    """
    if not isinstance(text, str):
        raise InputError(f"S3 URI {text!r} is not a string: write it as s3://bucket/key")
    if text != text.strip():
        raise _bad(text, "has leading or trailing whitespace", "remove it")
    if len(text) > MAX_S3_URI_LENGTH:
        raise _bad(text, f"is {len(text)} characters long", f"SageMaker accepts at most {MAX_S3_URI_LENGTH}")
    scheme, rest = _split_scheme(text)
    if "?" in rest or "#" in rest:
        # A query string is a presigned URL or an API call, not a location; '#' and '?' in keys
        # are legal in S3 but ambiguous in every URL form, so they are refused everywhere.
        raise _bad(text, "has a query string or fragment ('?' or '#')",
                   "give the plain location s3://bucket/key (no presigned URL, no '?' or '#' in keys)")
    if scheme == "s3":
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise _bad(text, "has no bucket name", "write it as s3://bucket/key")
        return _location(text, bucket, key, None)
    if scheme == "http":
        raise _bad(text, "uses http://", "use https:// (or s3://bucket/key); splatkit never sends data unencrypted")
    if scheme != "https":
        raise _bad(text, f"uses the scheme {scheme!r}", "write it as s3://bucket/key or an https:// S3 URL")
    host, slash, path = rest.partition("/")
    if "@" in host:
        raise _bad(text, "has a user name in its host", "remove the credentials; use s3://bucket/key")
    if ":" in host:
        raise _bad(text, "names a port", "remove the port; S3 URLs use the default https port")
    host = host.lower()
    if (m := _PATH_HOST.fullmatch(host)) is not None:
        bucket, _, key = path.partition("/")
        if not bucket:
            raise _bad(text, "is a path-style URL without a bucket", "write it as https://s3.REGION.amazonaws.com/bucket/key")
    elif (m := _VIRTUAL_HOST.fullmatch(host)) is not None:
        bucket, key = m["bucket"], path
    else:
        raise _bad(text, f"has the host {host!r}, which is not an Amazon S3 endpoint",
                   "use s3://bucket/key, https://bucket.s3.REGION.amazonaws.com/key or "
                   "https://s3.REGION.amazonaws.com/bucket/key")
    region = m["region"] or m["dualstack_region"]
    _check_partition(text, region, china=bool(m["china"]))
    return _location(text, bucket, unquote(key), region)


def _location(text: str, bucket: str, key: str, region: str | None) -> S3Uri:
    # Checked here first so that the error quotes what the user wrote, not the normalised form.
    check_bucket_name(bucket, uri=text)
    if key.startswith("/"):
        raise _bad(text, "has a key starting with '/'", "remove the extra '/' after the bucket name")
    _check_key(text, key)
    return S3Uri(bucket, key, region)


def _check_partition(text: str, region: str | None, *, china: bool) -> None:
    if china and (region is None or not region.startswith("cn-")):
        raise _bad(text, "uses the China domain amazonaws.com.cn without a China region",
                   "use https://bucket.s3.cn-north-1.amazonaws.com.cn/key (or cn-northwest-1)")
    if not china and region is not None and region.startswith("cn-"):
        raise _bad(text, f"names the China region {region!r} on amazonaws.com", "China endpoints end in .amazonaws.com.cn")
