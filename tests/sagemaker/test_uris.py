"""S3 URIs: every accepted form normalises to the same ``s3://`` location; everything else is one InputError."""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.errors import InputError
from splatkit.sagemaker.uris import MAX_S3_URI_LENGTH, S3Uri, check_bucket_name, parse_s3_uri

ACCEPTED = [
    # (text, bucket, key, region)
    ("s3://my-bucket/a/b.jpg", "my-bucket", "a/b.jpg", None),
    ("s3://my-bucket", "my-bucket", "", None),
    ("s3://my-bucket/", "my-bucket", "", None),
    ("S3://my-bucket/k", "my-bucket", "k", None),
    ("s3://my-bucket/a%20b", "my-bucket", "a%20b", None),  # s3:// keys are literal
    ("https://my-bucket.s3.amazonaws.com/a/b", "my-bucket", "a/b", None),
    ("https://my-bucket.s3.us-west-2.amazonaws.com/a/b", "my-bucket", "a/b", "us-west-2"),
    ("https://my-bucket.s3-us-west-2.amazonaws.com/a", "my-bucket", "a", "us-west-2"),
    ("https://my-bucket.s3.dualstack.eu-central-1.amazonaws.com/a", "my-bucket", "a", "eu-central-1"),
    ("https://s3.amazonaws.com/my-bucket/a/b", "my-bucket", "a/b", None),
    ("https://s3.us-gov-west-1.amazonaws.com/my-bucket/a", "my-bucket", "a", "us-gov-west-1"),
    ("https://s3-eu-west-1.amazonaws.com/my-bucket/a", "my-bucket", "a", "eu-west-1"),
    ("https://s3.us-east-1.amazonaws.com/my-bucket", "my-bucket", "", "us-east-1"),
    ("https://my.dotted.bucket.s3.us-east-1.amazonaws.com/k", "my.dotted.bucket", "k", "us-east-1"),
    ("HTTPS://MY-BUCKET.S3.US-EAST-1.AMAZONAWS.COM/Key", "my-bucket", "Key", "us-east-1"),
    ("https://my-bucket.s3.cn-north-1.amazonaws.com.cn/k", "my-bucket", "k", "cn-north-1"),
    ("https://my-bucket.s3.us-east-1.amazonaws.com/a%20b/c%2Bd", "my-bucket", "a b/c+d", "us-east-1"),
]


@pytest.mark.parametrize(("text", "bucket", "key", "region"), ACCEPTED, ids=[a[0][:60] for a in ACCEPTED])
def test_accepted_forms_normalise_to_s3(text: str, bucket: str, key: str, region: str | None) -> None:
    uri = parse_s3_uri(text)
    assert (uri.bucket, uri.key, uri.region) == (bucket, key, region)
    assert str(uri) == uri.uri == f"s3://{bucket}/{key}"
    assert parse_s3_uri(uri.uri) == uri  # normalising twice changes nothing


REJECTED = [
    ("http://my-bucket.s3.amazonaws.com/k", "uses http://"),
    ("https://my-bucket.s3.amazonaws.com.evil.com/k", "not an Amazon S3 endpoint"),
    ("https://s3.amazonaws.com.evil.com/my-bucket/k", "not an Amazon S3 endpoint"),
    ("https://my-bucket.s3.us-east-1.amazonaws.com.cn.evil.com/k", "not an Amazon S3 endpoint"),
    ("https://evil.com/my-bucket/k", "not an Amazon S3 endpoint"),
    ("https://my-bucket.s3amazonaws.com/k", "not an Amazon S3 endpoint"),
    ("https://my-bucket.s3-website-us-east-1.amazonaws.com/k", "not an Amazon S3 endpoint"),
    ("https://ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com/k", "not an Amazon S3 endpoint"),
    ("https://my-bucket.s3.amazonaws.com.cn/k", "without a China region"),
    ("https://my-bucket.s3.us-east-1.amazonaws.com.cn/k", "without a China region"),
    ("https://my-bucket.s3.cn-north-1.amazonaws.com/k", "China region"),
    ("https://my-bucket.s3.amazonaws.com/k?X-Amz-Signature=abc", "query string"),
    ("s3://my-bucket/k#frag", "fragment"),
    ("https://my-bucket.s3.amazonaws.com:8443/k", "port"),
    ("https://user@my-bucket.s3.amazonaws.com/k", "user name"),
    ("https://my-bucket.s3.amazonaws.com\\@evil.com/k", "user name"),
    ("gs://my-bucket/k", "scheme 'gs'"),
    ("s3a://my-bucket/k", "scheme 's3a'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("my-bucket/k", "no scheme"),
    ("", "no scheme"),
    ("s3:///k", "no bucket"),
    ("https://s3.us-east-1.amazonaws.com/", "without a bucket"),
    (" s3://my-bucket/k", "whitespace"),
    ("s3://My-Bucket/k", "invalid bucket name"),
    ("s3://ab/k", "3 to 63"),
    ("s3://" + "a" * 64 + "/k", "3 to 63"),
    ("s3://my_bucket/k", "invalid bucket name"),
    ("s3://-bucket/k", "start and end"),
    ("s3://bucket-/k", "start and end"),
    ("s3://my..bucket/k", "adjacent periods"),
    ("s3://192.168.5.4/k", "IP address"),
    ("s3://xn--bucket/k", "reserved"),
    ("s3://sthree-bucket/k", "reserved"),
    ("s3://amzn-s3-demo-bucket/k", "reserved"),
    ("s3://bucket-s3alias/k", "reserved"),
    ("s3://bucket--ol-s3/k", "reserved"),
    ("s3://bucket.mrap/k", "reserved"),
    ("s3://bucket--x-s3/k", "reserved"),
    ("s3://my-bucket//k", "starting with '/'"),
    ("s3://my-bucket/a\nb", "control character"),
    ("https://my-bucket.s3.amazonaws.com/a%0Ab", "control character"),
    ("s3://my-bucket/" + "k" * (MAX_S3_URI_LENGTH - len("s3://my-bucket/") + 1), "characters long"),
]


@pytest.mark.parametrize(("text", "problem"), REJECTED, ids=[r[0][:60] for r in REJECTED])
def test_rejected_forms_are_one_clear_input_error(text: str, problem: str) -> None:
    with pytest.raises(InputError) as info:
        parse_s3_uri(text)
    message = str(info.value)
    assert problem in message
    assert repr(text) in message, "the message quotes the URI as given"
    assert "\n" not in message.replace(repr(text), ""), "one line"
    assert ":" in message.split(repr(text), 1)[1], "the message ends with the fix"


def test_non_string_is_refused() -> None:
    with pytest.raises(InputError, match="not a string"):
        parse_s3_uri(None)  # type: ignore[arg-type]


def test_prefix_and_child() -> None:
    base = parse_s3_uri("s3://my-bucket/runs")
    assert base.as_prefix().uri == "s3://my-bucket/runs/"
    assert base.as_prefix().as_prefix() == base.as_prefix()
    assert parse_s3_uri("s3://my-bucket").as_prefix().uri == "s3://my-bucket/"
    assert base.child("r1", "sfm").uri == "s3://my-bucket/runs/r1/sfm"
    assert base.as_prefix().child("r1/sfm").as_prefix().uri == "s3://my-bucket/runs/r1/sfm/"
    for bad in ("", "a//b", "../x", "a/./b"):
        with pytest.raises(InputError, match="segment"):
            base.child(bad)


def test_region_is_not_part_of_the_location() -> None:
    assert parse_s3_uri("https://b-1.s3.eu-west-1.amazonaws.com/k") == parse_s3_uri("s3://b-1/k")


def test_direct_construction_is_checked() -> None:
    with pytest.raises(InputError, match="invalid bucket name"):
        S3Uri("Bad_Bucket", "k")
    with pytest.raises(InputError, match="starting with '/'"):
        S3Uri("good-bucket", "/k")
    with pytest.raises(InputError, match="'\\?' or '#'"):
        S3Uri("good-bucket", "a?b")
    with pytest.raises(InputError, match="'\\?' or '#'"):
        S3Uri("good-bucket", "runs").child("a#b")


def _valid_bucket(name: str) -> bool:
    try:
        check_bucket_name(name)
    except InputError:
        return False
    return True


buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]", fullmatch=True).filter(_valid_bucket)
keys = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="?#"), max_size=40).filter(
    lambda k: not k.startswith("/") and k == k.strip())  # keys with surrounding spaces are refused
regions = st.sampled_from(["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "us-gov-west-1"])


@given(bucket=buckets, key=keys, region=regions)
def test_every_form_of_one_location_parses_to_the_same_uri(bucket: str, key: str, region: str) -> None:
    encoded = quote(key, safe="/")
    forms = [f"s3://{bucket}/{key}",
             f"https://{bucket}.s3.{region}.amazonaws.com/{encoded}",
             f"https://{bucket}.s3.amazonaws.com/{encoded}",
             f"https://s3.{region}.amazonaws.com/{bucket}/{encoded}",
             f"https://s3.dualstack.{region}.amazonaws.com/{bucket}/{encoded}"]
    parsed = [parse_s3_uri(form) for form in forms]
    assert all(p == S3Uri(bucket, key) for p in parsed)
    assert {p.uri for p in parsed} == {f"s3://{bucket}/{key}"}
    assert [p.region for p in parsed] == [None, region, None, region, region]


@given(st.one_of(st.text(max_size=80),
                 st.from_regex(r"(s3|https?|S3)://[a-zA-Z0-9.:@_?#/%-]{0,60}", fullmatch=True)))
def test_any_text_parses_or_is_an_input_error(text: str) -> None:
    try:
        uri = parse_s3_uri(text)
    except InputError:
        return
    assert uri.uri.startswith("s3://") and len(uri.uri) <= MAX_S3_URI_LENGTH
    assert check_bucket_name(uri.bucket) == uri.bucket


@given(st.text(alphabet="abz09.-_X", min_size=0, max_size=70))
def test_bucket_names_that_pass_follow_the_s3_rules(name: str) -> None:
    try:
        check_bucket_name(name)
    except InputError as e:
        assert repr(name) in str(e)
        return
    assert 3 <= len(name) <= 63 and name == name.lower() and "_" not in name
    assert name[0].isalnum() and name[-1].isalnum() and ".." not in name
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{name} is an IP address")


@pytest.mark.parametrize("key", [" ", "run/ ", " run"])
def test_a_key_with_surrounding_whitespace_is_refused_both_ways(key: str) -> None:
    with pytest.raises(InputError, match="whitespace"):
        S3Uri("bucket-a", key)
    with pytest.raises(InputError, match="whitespace"):
        parse_s3_uri(f"s3://bucket-a/{key}")
