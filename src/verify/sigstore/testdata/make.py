#!/usr/bin/env python3
"""Writes the sigstore unit-test fixtures into this directory.

Run from anywhere:  python3 src/verify/sigstore/testdata/make.py
Needs python3 and python3-cryptography >= 44 (for deterministic ECDSA, RFC 6979).

The output is deterministic: every key comes from a fixed seed (ECDSA scalars, Ed25519 seeds,
RSA primes found from a seeded generator), ECDSA signatures use RFC 6979 nonces, RSA PKCS#1
v1.5 and Ed25519 are deterministic by nature, and certificates have fixed serials and validity
windows. Re-running it rewrites identical files. Only public material is written; the tests
never need a private key.

Validity windows are fixed so that the tests pass forever: "good" certificates are valid
2020-01-01..2099-01-01 (PKI leaves until 2098-01-01, so that the chain's expiry is the leaf's);
the Fulcio-style leaves are short-lived, valid 2021-01-01 00:00..00:10 UTC, as real Fulcio
certificates are, and their Rekor SETs record an integratedTime inside (or, for the late/early
variants, outside) that window.

Files (all small PEM, JSON or base64 text):
  key-*.pem             trusted public keys (PKIX unless named pkcs1), and unusable ones
  rekor.pem, rekor2.pem Rekor log keys (ECDSA P-256)
  payload-*.json        signed payloads (cosign style and containers/image style)
  sig-*.b64             base64 signatures of the payloads
  ca-*.pem, int-*.pem   CA roots and intermediates
  fulcio-*.pem          Fulcio-style leaves (under int-ca.pem)
  pki-*.pem, leaf-*.pem other leaves
  set-*.json            Rekor SETs (cosign bundle annotation form), good and broken
  digest.txt            the manifest digest the payloads name
"""

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import random

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = os.path.dirname(os.path.abspath(__file__))
DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
ISSUER = "https://issuer.example.com"
EMAIL = "signer@example.com"


def utc(*a):
    return datetime.datetime(*a, tzinfo=datetime.timezone.utc)


GOOD = (utc(2020, 1, 1), utc(2099, 1, 1))
FULCIO = (utc(2021, 1, 1, 0, 0), utc(2021, 1, 1, 0, 10))
# integratedTime of the Fulcio SETs: inside, after and before FULCIO.
T_FULCIO = int(utc(2021, 1, 1, 0, 5).timestamp())
T_LATE = int(utc(2021, 1, 1, 0, 20).timestamp())
T_EARLY = int(utc(2020, 12, 31, 23, 0).timestamp())


def write(name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def b64(b):
    return base64.b64encode(b).decode()


def pem(kind, der):
    body = b64(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, "\n".join(lines), kind)


def spki_pem(pub):
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


# --- keys -------------------------------------------------------------------------------------


def ec_key(seed, curve):
    c = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[curve]
    # Below every curve's order, so any such number is a valid private scalar.
    scalar = int.from_bytes(hashlib.sha512(seed.encode()).digest(), "big") % (2**200) + 1
    return ec.derive_private_key(scalar, c)


def is_probable_prime(n, rng):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(40):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def rsa_key(seed, bits=2048):
    rng = random.Random(seed)
    e = 65537

    def prime():
        while True:
            p = rng.getrandbits(bits // 2) | (3 << (bits // 2 - 2)) | 1
            if (p - 1) % e != 0 and is_probable_prime(p, rng):
                return p

    p, q = prime(), prime()
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    nums = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, n)
    )
    return nums.private_key()


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


P256 = ec_key("p256", "p256")
P384 = ec_key("p384", "p384")
P521 = ec_key("p521", "p521")
ED = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"ed25519").digest())
RSA = rsa_key("rsa-2048")
REKOR = ec_key("rekor", "p256")
REKOR2 = ec_key("rekor2", "p256")
LEAF = ec_key("leaf", "p256")
CA_KEYS = {name: ec_key("ca-" + name, "p256") for name in ["root", "int", "root-expired",
           "int-notca", "int-pl0", "int-under-pl0", "int2a", "int2b", "int-short"]}


def write_keys():
    write("key-p256.pem", spki_pem(P256.public_key()))
    write("key-p384.pem", spki_pem(P384.public_key()))
    write("key-p521.pem", spki_pem(P521.public_key()))
    write("key-ed25519.pem", spki_pem(ED.public_key()))
    write("key-rsa.pem", spki_pem(RSA.public_key()))
    write(
        "key-rsa-pkcs1.pem",
        RSA.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
    )
    pkcs1 = RSA.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    # AlgorithmIdentifier { rsaEncryption } without the NULL parameters Go requires.
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")))
    write("key-rsa-noparams.pem", pem("PUBLIC KEY", tlv(0x30, alg + tlv(0x03, b"\0" + pkcs1))))
    # The P-256 key with its point's last byte changed: no longer on the curve.
    der = bytearray(
        P256.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    der[-1] ^= 1
    write("key-offcurve.pem", pem("PUBLIC KEY", bytes(der)))
    write("key-garbage.pem", pem("PUBLIC KEY", b"this is not a public key"))
    write("key-unknown-type.pem", pem("EC PUBLIC KEY", bytes(der)))
    # Two blocks: only the first (P-256) counts.
    write("key-two-blocks.pem", spki_pem(P256.public_key()) + spki_pem(P384.public_key()))
    write("rekor.pem", spki_pem(REKOR.public_key()))
    write("rekor2.pem", spki_pem(REKOR2.public_key()))


# --- payloads and signatures -----------------------------------------------------------------


def payload(ref, optional):
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": ref},
                "image": {"docker-manifest-digest": DIGEST},
                "type": "cosign container image signature",
            },
            "optional": optional,
        },
        separators=(",", ":"),
    ).encode()


# cosign writes a tag-less reference and "optional": null.
COSIGN = payload("example.com/app", None)
# containers/image's signer writes the tagged reference, a creator and a timestamp.
CIMAGE = payload(
    "example.com/app:1", {"creator": "containers/image 5.34.2", "timestamp": 1700000000}
)
OTHER_DIGEST = CIMAGE.replace(DIGEST.encode(), ("sha256:" + "1" * 64).encode())


def ecdsa(key, data):
    return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))


def p1363(key, sig):
    r, s = decode_dss_signature(sig)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def high_s(key, sig):
    n = {256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551}[key.curve.key_size]
    r, s = decode_dss_signature(sig)
    return encode_dss_signature(r, max(s, n - s))


SIGS = {}


def write_signatures():
    write("payload-cosign.json", COSIGN)
    write("payload-cimage.json", CIMAGE)
    write("payload-other-digest.json", OTHER_DIGEST)
    write("digest.txt", DIGEST)
    p256 = ecdsa(P256, CIMAGE)
    SIGS.update(
        {
            "p256": p256,
            "p256-p1363": p1363(P256, p256),
            "p256-highs": high_s(P256, p256),
            "p256-cosign": ecdsa(P256, COSIGN),
            "p256-other-digest": ecdsa(P256, OTHER_DIGEST),
            "p384": ecdsa(P384, CIMAGE),
            "p384-p1363": p1363(P384, ecdsa(P384, CIMAGE)),
            "rsa": RSA.sign(CIMAGE, padding.PKCS1v15(), hashes.SHA256()),
            "ed25519": ED.sign(CIMAGE),
            "leaf": ecdsa(LEAF, CIMAGE),
            "leaf-cosign": ecdsa(LEAF, COSIGN),
        }
    )
    for name, sig in SIGS.items():
        write("sig-%s.b64" % name, b64(sig))


# --- certificates ----------------------------------------------------------------------------


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(
    subject,
    key,
    issuer,
    issuer_key,
    serial,
    window=GOOD,
    ca=None,
    eku=(ExtendedKeyUsageOID.CODE_SIGNING,),
    san=None,
    san_critical=False,
    extra=(),
    hash_alg=None,
    empty_subject=False,
):
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]) if empty_subject else name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(window[0])
        .not_valid_after(window[1])
    )
    if ca is not None:
        is_ca, path_len = ca
        b = b.add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_len), critical=True)
        if is_ca:
            b = b.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=san_critical)
    for oid, value, critical in extra:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical)
    c = b.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)
    if isinstance(hash_alg, hashes.SHA1):
        return pem("CERTIFICATE", resign_sha1(c.tbs_certificate_bytes, issuer_key))
    return c.public_bytes(serialization.Encoding.PEM).decode()


def der_children(der):
    """The (tag, whole TLV) children of a DER SEQUENCE."""
    body = der[1:]
    n = body[0]
    if n & 0x80:
        k = n & 0x7F
        body = body[1 + k :]
    else:
        body = body[1:]
    out = []
    while body:
        n = body[1]
        if n & 0x80:
            k = n & 0x7F
            length = int.from_bytes(body[2 : 2 + k], "big")
            size = 2 + k + length
        else:
            size = 2 + n
        out.append(body[:size])
        body = body[size:]
    return out


def resign_sha1(tbs, key):
    """The certificate `tbs` signed with ECDSA-SHA1, which the library refuses to make."""
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a8648ce3d0401")))
    children = der_children(tbs)
    children[2] = alg
    tbs = tlv(0x30, b"".join(children))
    sig = key.sign(tbs, ec.ECDSA(hashes.SHA1(), deterministic_signing=True))
    return tlv(0x30, tbs + alg + tlv(0x03, b"\0" + sig))


def v1(issuer):
    return ("1.3.6.1.4.1.57264.1.1", issuer.encode(), False)


def v8(issuer, tag=0x0C):
    return ("1.3.6.1.4.1.57264.1.8", tlv(tag, issuer.encode()), False)


CERTS = {}


def write_certs():
    K = CA_KEYS
    c = CERTS
    c["ca-root"] = cert("Test Root", K["root"], "Test Root", K["root"], 1, ca=(True, None), eku=())
    c["int-ca"] = cert("Test Intermediate", K["int"], "Test Root", K["root"], 2, ca=(True, None), eku=())
    c["ca-root-expired"] = cert(
        "Expired Root", K["root-expired"], "Expired Root", K["root-expired"], 3,
        window=(utc(2015, 1, 1), utc(2019, 1, 1)), ca=(True, None), eku=(),
    )
    c["int-notca"] = cert("Not A CA", K["int-notca"], "Test Root", K["root"], 4, eku=())
    c["int-pl0"] = cert("PathLen Zero", K["int-pl0"], "Test Root", K["root"], 5, ca=(True, 0), eku=())
    c["int-under-pl0"] = cert(
        "Under PathLen Zero", K["int-under-pl0"], "PathLen Zero", K["int-pl0"], 6, ca=(True, None), eku=()
    )
    c["int2a"] = cert("Second Level A", K["int2a"], "Test Root", K["root"], 7, ca=(True, None), eku=())
    c["int2b"] = cert("Second Level B", K["int2b"], "Second Level A", K["int2a"], 8, ca=(True, None), eku=())
    c["int-short"] = cert(
        "Short Intermediate", K["int-short"], "Test Root", K["root"], 9,
        window=(utc(2020, 1, 1), utc(2022, 1, 1)), ca=(True, None), eku=(),
    )

    email = [x509.RFC822Name(EMAIL)]
    I = ("Test Intermediate", K["int"])

    def fulcio(serial, **kw):
        kw.setdefault("san", email)
        kw.setdefault("san_critical", True)
        kw.setdefault("empty_subject", True)
        kw.setdefault("extra", (v1(ISSUER), v8(ISSUER)))
        return cert("", LEAF, I[0], I[1], serial, window=FULCIO, **kw)

    c["fulcio-leaf"] = fulcio(100)
    c["fulcio-noeku"] = fulcio(101, eku=())
    c["fulcio-serverauth"] = fulcio(102, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    c["fulcio-anyeku"] = fulcio(103, eku=(ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,))
    c["fulcio-inconsistent"] = fulcio(104, extra=(v1(ISSUER), v8("https://other.example.com")))
    c["fulcio-noissuer"] = fulcio(105, extra=())
    c["fulcio-v1only"] = fulcio(106, extra=(v1(ISSUER),))
    c["fulcio-v8only"] = fulcio(107, extra=(v8(ISSUER),))
    # A SAN Go's parser leaves unhandled (an otherName only), critical, with an empty subject.
    c["fulcio-othername"] = fulcio(
        108, san=[x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7"), tlv(0x0C, b"user"))]
    )
    c["fulcio-unknown-critical"] = fulcio(
        109, extra=(v1(ISSUER), v8(ISSUER), ("1.2.3.4.5", b"\x05\x00", True))
    )
    # The v2 issuer as a BMPString (UTF-16BE), which Go's asn1.Unmarshal reads into a string.
    c["fulcio-v8bmp"] = fulcio(
        110, extra=(("1.3.6.1.4.1.57264.1.8", tlv(0x1E, ISSUER.encode("utf-16-be")), False),)
    )
    c["fulcio-wrong-email"] = fulcio(111, san=[x509.RFC822Name("someone@example.com")])

    good_until = (GOOD[0], utc(2098, 1, 1))
    c["pki-email"] = cert("PKI Email", LEAF, I[0], I[1], 200, window=good_until,
                          san=[x509.RFC822Name("pki@example.com")])
    c["pki-dns"] = cert("PKI DNS", LEAF, I[0], I[1], 201, window=good_until,
                        san=[x509.DNSName("signer.example.com"), x509.DNSName("*.wild.example.com")])
    c["pki-ip"] = cert("PKI IP", LEAF, I[0], I[1], 202, window=good_until,
                       san=[x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
                            x509.IPAddress(ipaddress.ip_address("2001:db8::1"))])
    c["pki-expired"] = cert("PKI Expired", LEAF, I[0], I[1], 203,
                            window=(utc(2020, 1, 1), utc(2020, 6, 1)),
                            san=[x509.RFC822Name("pki@example.com")])
    c["leaf-sha1"] = cert("SHA-1 Leaf", LEAF, I[0], I[1], 204, hash_alg=hashes.SHA1(),
                          san=[x509.RFC822Name("pki@example.com")])
    c["leaf-notca"] = cert("Under Not A CA", LEAF, "Not A CA", K["int-notca"], 205,
                           san=[x509.RFC822Name("pki@example.com")])
    c["leaf-pl0"] = cert("Under PathLen", LEAF, "Under PathLen Zero", K["int-under-pl0"], 206,
                         san=[x509.RFC822Name("pki@example.com")])
    c["leaf-2int"] = cert("Two Intermediates", LEAF, "Second Level B", K["int2b"], 207,
                          san=[x509.RFC822Name("pki@example.com")])
    c["leaf-short"] = cert("Under Short", LEAF, "Short Intermediate", K["int-short"], 208,
                           san=[x509.RFC822Name("pki@example.com")])
    c["leaf-expired-root"] = cert("Under Expired Root", LEAF, "Expired Root", K["root-expired"], 209,
                                  window=(utc(2015, 1, 1), GOOD[1]),
                                  san=[x509.RFC822Name("pki@example.com")])
    c["leaf-unknown-critical"] = cert("Unknown Critical", LEAF, I[0], I[1], 210,
                                      san=[x509.RFC822Name("pki@example.com")],
                                      extra=(("1.2.3.4.5", b"\x05\x00", True),))
    for n, text in c.items():
        write(n + ".pem", text)


# --- Rekor SETs ------------------------------------------------------------------------------


def canonical(obj):
    # Enough of RFC 8785 for these ASCII-keyed objects with integer numbers.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hashedrekord(key_pem, sig, data, **over):
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()}},
            "signature": {"content": b64(sig), "publicKey": {"content": b64(key_pem.encode())}},
        },
    }
    body.update(over)
    return body


def rekor_payload(body, t=T_FULCIO, raw_body=None):
    text = raw_body if raw_body is not None else canonical(body)
    return {
        "body": b64(text),
        "integratedTime": t,
        "logIndex": 42,
        "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
    }


def set_json(p, key=REKOR, signed=None, stored=None):
    """The bundle annotation: SignedEntryTimestamp over `signed` (default: the canonical form of
    `p`) and Payload written as `stored` (default: the canonical form)."""
    signed = signed if signed is not None else canonical(p)
    stored = stored if stored is not None else canonical(p).decode()
    return '{"SignedEntryTimestamp":"%s","Payload":%s}' % (b64(ecdsa(key, signed)), stored)


def write_sets():
    p256 = spki_pem(P256.public_key())
    sig = SIGS["p256"]
    good = rekor_payload(hashedrekord(p256, sig, CIMAGE))
    sets = {
        "key": set_json(good),
        "key-rekor2": set_json(good, key=REKOR2),
        # Stored with members in another order and with whitespace: the canonical form is what
        # is signed, so it verifies.
        "key-reordered": set_json(
            good, stored=json.dumps(dict(reversed(list(good.items()))), indent=1)
        ),
        # Signed over the stored, non-canonical bytes: fails.
        "key-signed-noncanonical": set_json(
            good,
            signed=json.dumps(good, indent=1).encode(),
            stored=json.dumps(good, indent=1),
        ),
        "key-dup-member": set_json(good, stored=canonical(good).decode()[:-1] + ',"logIndex":42}'),
        "key-extra-member": set_json(dict(good, extra=1)),
        "key-missing-logid": set_json({k: v for k, v in good.items() if k != "logID"}),
        "key-top-extra": set_json(good)[:-1] + ',"Extra":1}',
        "key-top-missing": '{"Payload":%s}' % canonical(good).decode(),
        "key-api-version": set_json(rekor_payload(hashedrekord(p256, sig, CIMAGE, apiVersion="0.0.2"))),
        "key-kind": set_json(rekor_payload(hashedrekord(p256, sig, CIMAGE, kind="rekord"))),
        "key-no-api-version": set_json(
            rekor_payload({k: v for k, v in hashedrekord(p256, sig, CIMAGE).items() if k != "apiVersion"})
        ),
        "key-pem-trailing": set_json(rekor_payload(hashedrekord(p256 + "x", sig, CIMAGE))),
        "key-not-pem": set_json(rekor_payload(hashedrekord("not PEM", sig, CIMAGE))),
        "key-body-not-json": set_json(rekor_payload(None, raw_body=b"not JSON")),
    }

    def spec_variant(name, mutate):
        body = hashedrekord(p256, sig, CIMAGE)
        mutate(body["spec"])
        sets[name] = set_json(rekor_payload(body))

    spec_variant("key-sha512", lambda s: s["data"]["hash"].update(algorithm="sha512"))
    spec_variant("key-bad-hex", lambda s: s["data"]["hash"].update(value="zz"))
    spec_variant("key-no-data", lambda s: s.pop("data"))
    spec_variant("key-no-hash-value", lambda s: s["data"]["hash"].pop("value"))
    spec_variant("key-no-signature", lambda s: s.pop("signature"))
    spec_variant("key-no-public-key", lambda s: s["signature"].pop("publicKey"))
    # Member names in other cases, as Go's encoding/json matches them.
    sets["key-case"] = set_json(
        rekor_payload(
            {
                "APIVERSION": "0.0.1",
                "Kind": "hashedrekord",
                "Spec": {
                    "DATA": {"Hash": {"Algorithm": "sha256", "VALUE": hashlib.sha256(CIMAGE).hexdigest()}},
                    "Signature": {
                        "Content": b64(sig),
                        "PublicKey": {"CONTENT": b64(p256.encode())},
                    },
                },
            }
        )
    )
    # The certificate PEM, for the Fulcio leaves.
    for leaf in [k for k in CERTS if k.startswith("fulcio-")]:
        body = hashedrekord(CERTS[leaf], SIGS["leaf"], CIMAGE)
        sets[leaf] = set_json(rekor_payload(body))
    body = hashedrekord(CERTS["fulcio-leaf"], SIGS["leaf"], CIMAGE)
    sets["fulcio-leaf-late"] = set_json(rekor_payload(body, t=T_LATE))
    sets["fulcio-leaf-early"] = set_json(rekor_payload(body, t=T_EARLY))
    for n, text in sets.items():
        write("set-%s.json" % n, text)


if __name__ == "__main__":
    write_keys()
    write_signatures()
    write_certs()
    write_sets()
