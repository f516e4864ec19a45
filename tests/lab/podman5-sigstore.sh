#!/usr/bin/env bash
# podman5-sigstore.sh — the sigstore-signed images of the sigstore differential test
# (tests/sigstore.rs, tests/lab/podman5-sigstore-matrix.sh). Runs INSIDE a podman5.sh root, as
# `podman5.sh run DIR -- bash /lab/osh/podman5-sigstore.sh`: the registry it starts on 127.0.0.1
# lives in that run's network namespace, so keys, push, sign and pull all happen in this one run.
#
# Everything is made offline, in this run:
#   keys     ECDSA P-256 from `skopeo generate-sigstore-key` and from `cosign generate-key-pair`;
#            P-224, P-256, P-384, P-521, Ed25519 and RSA-2048 (PKIX `PUBLIC KEY` and PKCS#1 `RSA PUBLIC KEY`)
#            from python3-cryptography; key files with two PEM blocks; a GPG key; three "Rekor"
#            keys (two ECDSA P-256, one Ed25519); a CA (root + intermediate), another CA, and
#            Fulcio-style and PKI leaf certificates.
#   images   127.0.0.1:5000/osh-sig/NAME:v1, each the lab's busybox layer plus a layer with a
#            file naming it (so each has its own manifest digest and image ID), pushed to a local
#            docker-registry whose storage is kept (the matrix pulls from it again), signed with
#            skopeo, cosign, or signatures made here in Python (payload signed as raw bytes,
#            annotations and Rekor SETs built per SEMANTICS.md §9) pushed as the cosign
#            `sha256-<hex>.sig` manifest, then `podman pull`ed into the root's storage
#            (/lab/storage) with registries.d `use-sigstore-attachments: true`, so the signatures
#            are stored exactly as podman stores them.
#
# Left in /lab/osh/sigstore:
#   keys/            public keys, CA certificates, a GPG public key (policies name these)
#   home/            HOME with .config/containers/registries.d for the registry (lookaside for the
#                    GPG signatures, sigstore attachments on)
#   registry/        the registry's storage; registry.yml serves it on 127.0.0.1:5000
#   images.tsv       NAME, the reference it was pulled by, its manifest digest
#   prepared         a copy of this script, written last: when it equals this script, everything
#                    is in place and nothing is done (a fraction of a second), so run it before
#                    every use.
set -euo pipefail

readonly DIR=/lab/osh/sigstore
readonly REGISTRY=127.0.0.1:5000
readonly REPO=$REGISTRY/osh-sig

if cmp -s "$0" "$DIR/prepared"; then
    exit 0
fi

log() { printf 'podman5-sigstore: %s\n' "$*" >&2; }
die() {
    printf 'podman5-sigstore: error: %s\n' "$*" >&2
    exit 1
}

start=$EPOCHREALTIME
log "making keys, certificates and signed images in $DIR"
# An earlier corpus's images (and their containers) go first: a pull onto an existing image ID
# would keep its old names and replace its signatures.
podman images --format '{{.ID}} {{.Repository}}' | awk -v r="$REPO/" 'index($2, r) == 1 { print $1 }' |
    sort -u | xargs -r podman rmi --force >/dev/null
rm -rf "$DIR"
work=$DIR/work
mkdir -p "$DIR/keys" "$DIR/lookaside" "$DIR/registry" "$DIR/home/.config/containers/registries.d" \
    "$work/priv"
# containers/image reads registries.d under HOME; gpg its keys from GNUPGHOME.
export HOME=$DIR/home GNUPGHOME=$work/gnupg
mkdir -m 0700 "$GNUPGHOME"

cat >"$HOME/.config/containers/registries.d/osh-sig.yaml" <<EOF
docker:
  $REPO:
    lookaside: file://$DIR/lookaside
    lookaside-staging: file://$DIR/lookaside
    use-sigstore-attachments: true
EOF
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/accept.json"

cat >"$DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: false
http:
  addr: $REGISTRY
EOF
docker-registry serve "$DIR/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
up=
for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
[[ -n $up ]] || { cat "$work/registry.log" >&2; die "docker-registry did not come up"; }

# ---------------------------------------------------------------------------
# Keys made by the tools users sign with
# ---------------------------------------------------------------------------

printf 'osh-sigstore\n' >"$work/passphrase"
(
    cd "$work/priv"
    # It reads the passphrase from a terminal only.
    (echo osh-sigstore; echo osh-sigstore) |
        script -qec "skopeo generate-sigstore-key --output-prefix skopeo" /dev/null >/dev/null
    COSIGN_PASSWORD=osh-sigstore cosign generate-key-pair >/dev/null 2>&1
)
[[ -s $work/priv/skopeo.private && -s $work/priv/cosign.key ]] || die "skopeo or cosign made no key"
cp "$work/priv/skopeo.pub" "$DIR/keys/skopeo.pub"
cp "$work/priv/cosign.pub" "$DIR/keys/cosign.pub"

gpg --batch --quiet --passphrase '' --quick-gen-key 'osh sigstore lab <gpg@osh-sig.test>' ed25519 sign never \
    2>/dev/null
gpg --batch --quiet --export gpg@osh-sig.test >"$DIR/keys/gpg.gpg"
[[ -s $DIR/keys/gpg.gpg ]] || die "export of the GPG key failed"
gpg_fpr=$(gpg --batch --with-colons --list-keys gpg@osh-sig.test 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')

# ---------------------------------------------------------------------------
# The rest of the keys, the certificates, the images and the crafted signatures
# ---------------------------------------------------------------------------

cat >"$work/lab.py" <<'PY'
"""Keys, certificates, images and crafted sigstore signatures of the sigstore lab."""

import base64
import datetime
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

DIR, WORK, REGISTRY, REPO = sys.argv[1:5]
KEYS = DIR + "/keys"
NOW = int(time.time())
DAY = 86400
SIG_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
ISSUER = "https://issuer.osh-sig.test"
EMAIL = "dev@osh-sig.test"
OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V8 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def b64(data):
    return base64.b64encode(data).decode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# --- keys -------------------------------------------------------------------------------------


def pub_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


keys = {
    "p256": ec.generate_private_key(ec.SECP256R1()),
    "other": ec.generate_private_key(ec.SECP256R1()),
    "p384": ec.generate_private_key(ec.SECP384R1()),
    "p521": ec.generate_private_key(ec.SECP521R1()),
    "p224": ec.generate_private_key(ec.SECP224R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rekor": ec.generate_private_key(ec.SECP256R1()),
    "rekor2": ec.generate_private_key(ec.SECP256R1()),
    "rekor-ed25519": ed25519.Ed25519PrivateKey.generate(),
    "leaf": ec.generate_private_key(ec.SECP256R1()),
}
for name, key in keys.items():
    write(f"{KEYS}/{name}.pub", pub_pem(key))
write(
    f"{KEYS}/rsa-pkcs1.pub",
    keys["rsa"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    ),
)
# Only the first PEM block of a key file counts.
write(f"{KEYS}/two-wrong-first.pub", pub_pem(keys["other"]) + pub_pem(keys["p256"]))
write(f"{KEYS}/two-right-first.pub", pub_pem(keys["p256"]) + pub_pem(keys["other"]))
write(f"{KEYS}/garbage.pub", b"this is not a PEM public key\n")
# Text before the PEM block, as openssl writes with -text.
write(f"{KEYS}/p256-preamble.pub", b"An ECDSA P-256 key:\n" + pub_pem(keys["p256"]))


def sign(key, data):
    """A sigstore payload signature: ECDSA (SHA-256, DER), RSA PKCS#1 v1.5 SHA-256, Ed25519."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


# --- certificates -----------------------------------------------------------------------------


def when(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc)


def ca(cn, issuer=None, issuer_key=None, path_length=None):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when(NOW - 365 * DAY))
        .not_valid_after(when(NOW + 3650 * DAY))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    )
    return builder.sign(issuer_key or key, hashes.SHA256()), key


root, root_key = ca("osh-sig root CA")
inter, inter_key = ca("osh-sig intermediate CA", root, root_key, path_length=0)
otherca, otherca_key = ca("osh-sig other CA")
# An intermediate limited to e-mail addresses under osh-sig.test.
nc_key = ec.generate_private_key(ec.SECP256R1())
inter_nc = (
    x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osh-sig constrained CA")]))
    .issuer_name(root.subject)
    .public_key(nc_key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(when(NOW - 365 * DAY))
    .not_valid_after(when(NOW + 3650 * DAY))
    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    .add_extension(x509.NameConstraints([x509.RFC822Name("osh-sig.test")], None), critical=True)
    .sign(root_key, hashes.SHA256())
)


def cert_pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


write(f"{KEYS}/ca-root.pem", cert_pem(root))
write(f"{KEYS}/ca-inter.pem", cert_pem(inter))
write(f"{KEYS}/ca-other.pem", cert_pem(otherca))


def leaf(
    issuer,
    issuer_key,
    *,
    start=NOW - DAY,
    end=NOW + 3650 * DAY,
    eku=(ExtendedKeyUsageOID.CODE_SIGNING,),
    emails=(EMAIL,),
    dns=(),
    v1=ISSUER,
    v8=ISSUER,
    v8_tag=0x0C,
    fulcio=True,
    digest=hashes.SHA256(),
):
    """A leaf certificate for keys["leaf"]. Fulcio-style: empty subject, critical SAN, the OIDC
    issuer in the v1 (raw string) and/or v8 (DER UTF8String) extension; PKI-style: a subject, no
    issuer extension."""
    sans = [x509.RFC822Name(e) for e in emails] + [x509.DNSName(d) for d in dns]
    subject = x509.Name([]) if fulcio else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osh-sig signer")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(keys["leaf"].public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when(start))
        .not_valid_after(when(end))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=fulcio)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if fulcio and v1 is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(OID_ISSUER_V1, v1.encode()), critical=False)
    if fulcio and v8 is not None:
        raw = v8.encode()
        assert len(raw) < 128
        der = bytes([v8_tag, len(raw)]) + raw
        builder = builder.add_extension(x509.UnrecognizedExtension(OID_ISSUER_V8, der), critical=False)
    return builder.sign(issuer_key, digest)


# --- registry ---------------------------------------------------------------------------------


def http(method, url, data=None, headers=None):
    req = urllib.request.Request(f"http://{REGISTRY}{url}", data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as resp:
        return resp.status, dict(resp.headers), resp.read()


def push_blob(repo, data):
    digest = "sha256:" + sha256(data)
    try:
        http("HEAD", f"/v2/{repo}/blobs/{digest}")
        return digest
    except urllib.error.HTTPError:
        pass
    _, headers, _ = http("POST", f"/v2/{repo}/blobs/uploads/")
    location = headers["Location"]
    location = location.split(REGISTRY, 1)[-1]
    sep = "&" if "?" in location else "?"
    http("PUT", f"{location}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return digest


def push_manifest(repo, ref, manifest):
    data = json.dumps(manifest, separators=(",", ":")).encode()
    http("PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": manifest["mediaType"]})
    return "sha256:" + sha256(data), len(data)


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


with open("/lab/busybox.tar", "rb") as f:
    BASE_TAR = f.read()
BASE_GZ = gz(BASE_TAR)


def tiny_layer(text):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("etc")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(d)
        data = text.encode()
        f = tarfile.TarInfo("etc/osh-image")
        f.size, f.mode = len(data), 0o644
        tar.addfile(f, io.BytesIO(data))
    return out.getvalue()


def push_image(name, tag="v1", arch="amd64", label=None):
    """busybox plus /etc/osh-image; returns (manifest digest, size)."""
    repo = f"osh-sig/{name}"
    tiny = tiny_layer(f"oci-signature-hook sigstore test image {label or name}\n")
    tiny_gz = gz(tiny)
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(BASE_TAR), "sha256:" + sha256(tiny)]},
    }
    config_data = json.dumps(config, separators=(",", ":")).encode()
    layers = []
    for blob in (BASE_GZ, tiny_gz):
        layers.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": push_blob(repo, blob),
                "size": len(blob),
            }
        )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": push_blob(repo, config_data),
            "size": len(config_data),
        },
        "layers": layers,
    }
    return push_manifest(repo, tag, manifest)


def push_sigs(name, digest, sigs):
    """The cosign attachment manifest of DIGEST: one layer per (mediaType, blob, annotations)."""
    repo = f"osh-sig/{name}"
    layers = []
    for media_type, blob, annotations in sigs:
        layers.append(
            {
                "mediaType": media_type,
                "size": len(blob),
                "digest": push_blob(repo, blob),
                "annotations": annotations,
            }
        )
    config = {
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
    }
    config_data = json.dumps(config, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config_data),
            "digest": push_blob(repo, config_data),
        },
        "layers": layers,
    }
    push_manifest(repo, digest.replace(":", "-") + ".sig", manifest)


# --- payloads, signatures, Rekor SETs ---------------------------------------------------------


def payload(digest, ref, optional=None):
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": ref},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": optional,
        },
        separators=(",", ":"),
    ).encode()


def canonical(obj):
    # RFC 8785 for what a SET payload holds (ASCII keys, strings, integers).
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rekor_set(
    rekor_key,
    data,
    sig,
    key_or_cert_pem,
    integrated=NOW - 3600,
    *,
    hash_of=None,
    body_pem=None,
    body_sig=None,
    noncanonical=None,
):
    """The `dev.sigstore.cosign/bundle` annotation: a SET over {body, integratedTime, logIndex,
    logID}, body a hashedrekord 0.0.1 entry. noncanonical: "signed" signs non-canonical bytes of
    the payload, "sent" signs the canonical form but sends a non-canonical one."""
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": sha256(hash_of or data)}},
            "signature": {
                "content": b64(body_sig or sig),
                "publicKey": {"content": b64(body_pem or key_or_cert_pem)},
            },
        },
    }
    rekor_der = rekor_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    entry = {
        "body": b64(json.dumps(body).encode()),
        "integratedTime": integrated,
        "logIndex": 4242,
        "logID": sha256(rekor_der),
    }
    raw = json.dumps({k: entry[k] for k in ("logID", "logIndex", "integratedTime", "body")}, indent=1).encode()
    signed = raw if noncanonical == "signed" else canonical(entry)
    set_sig = rekor_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sent = raw if noncanonical else canonical(entry)
    return '{"SignedEntryTimestamp":"%s","Payload":%s}' % (b64(set_sig), sent.decode())


def high_s(der):
    """The same ECDSA signature with s replaced by n - s (the high-S twin of a low-S one)."""
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    r, s = decode_dss_signature(der)
    if s <= n // 2:
        s = n - s
    return encode_dss_signature(r, s)


def ref(name, tag="v1"):
    return f"{REPO}/{name}:{tag}"


OPTIONAL = {"creator": "oci-signature-hook sigstore lab", "timestamp": NOW}
images = {}


def image(name):
    images[name] = push_image(name)[0]
    return images[name]


def key_signed(name, key, *, identity=None, digest=None, mangle=None, optional=OPTIONAL, extra=None):
    """An image signed with KEY over a payload for its own digest and tagged reference."""
    own = image(name)
    data = payload(digest or own, identity or ref(name), optional)
    sig = sign(key, data)
    if mangle:
        sig = mangle(sig)
    annotations = {"dev.cosignproject.cosign/signature": b64(sig)}
    annotations.update(extra(data, sig) if extra else {})
    push_sigs(name, own, [(SIG_TYPE, data, annotations)])


P256_PEM = pub_pem(keys["p256"])
LEAF_KEY = keys["leaf"]

# Public keys of every type c/image verifies with.
key_signed("p256", keys["p256"])
key_signed("p384", keys["p384"])
key_signed("ed25519", keys["ed25519"])
key_signed("rsa", keys["rsa"], optional=None)
key_signed("highs", keys["p256"], mangle=high_s)
key_signed("garbled", keys["p256"], mangle=lambda s: s[: len(s) - 7])
key_signed("otherdigest", keys["p256"], digest=images["p256"])
key_signed("otherident", keys["p256"], identity=f"{REGISTRY}/osh-mirror/otherident:v1")
key_signed("p521", keys["p521"])
key_signed("p224", keys["p224"])
# Base64 with a line break in it (Go's decoder skips CR and LF).
key_signed("sig-newline", keys["p256"], extra=lambda d, s: {"dev.cosignproject.cosign/signature": b64(s)[:20] + "\n" + b64(s)[20:]})
# A payload with a field the payload format does not have.
own = image("payload-extra")
data = payload(own, ref("payload-extra"), OPTIONAL).replace(b'"critical":{', b'"critical":{"extra":1,')
push_sigs("payload-extra", own, [(SIG_TYPE, data, {"dev.cosignproject.cosign/signature": b64(sign(keys["p256"], data))})])

# Rekor SETs over a P-256 key's signature.
R, R2 = keys["rekor"], keys["rekor2"]
key_signed("rekor", keys["p256"], extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R, d, s, P256_PEM)})
key_signed("rekor-other", keys["p256"], extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R2, d, s, P256_PEM)})
key_signed(
    "rekor-hash",
    keys["p256"],
    extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R, d, s, P256_PEM, hash_of=d + b" ")},
)
key_signed(
    "rekor-bodykey",
    keys["p256"],
    extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R, d, s, P256_PEM, body_pem=pub_pem(keys["other"]))},
)
key_signed(
    "rekor-bodysig",
    keys["p256"],
    extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R, d, s, P256_PEM, body_sig=sign(keys["p256"], d))},
)
key_signed(
    "rekor-noncanon",
    keys["p256"],
    extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R, d, s, P256_PEM, noncanonical="signed")},
)
key_signed(
    "rekor-noncanon-ok",
    keys["p256"],
    extra=lambda d, s: {"dev.sigstore.cosign/bundle": rekor_set(R, d, s, P256_PEM, noncanonical="sent")},
)


def cert_signed(name, cert, chain=(), *, integrated=NOW - 3600, rekor=True, extra_certs=()):
    """An image signed with the leaf key, its certificate (and chain) attached, with a Rekor SET
    over the certificate (Fulcio) or none (PKI)."""
    own = image(name)
    data = payload(own, ref(name), OPTIONAL)
    sig = sign(LEAF_KEY, data)
    pem = cert_pem(cert, *extra_certs)
    annotations = {"dev.cosignproject.cosign/signature": b64(sig), "dev.sigstore.cosign/certificate": pem.decode()}
    if chain:
        annotations["dev.sigstore.cosign/chain"] = cert_pem(*chain).decode()
    if rekor:
        annotations["dev.sigstore.cosign/bundle"] = rekor_set(R, data, sig, pem, integrated)
    push_sigs(name, own, [(SIG_TYPE, data, annotations)])


T = NOW - 5 * DAY  # the integratedTime of the validity-window cases
cert_signed("fulcio", leaf(root, root_key), [root])
cert_signed("fulcio-noeku", leaf(root, root_key, eku=None), [root])
cert_signed("fulcio-serverauth", leaf(root, root_key, eku=(ExtendedKeyUsageOID.SERVER_AUTH,)), [root])
cert_signed("fulcio-expired-now", leaf(root, root_key, start=NOW - 10 * DAY, end=NOW - DAY), [root], integrated=T)
cert_signed("fulcio-expired-at-set", leaf(root, root_key, start=NOW - 10 * DAY, end=NOW - 6 * DAY), [root], integrated=T)
cert_signed("fulcio-notyet", leaf(root, root_key, start=NOW - 4 * DAY), [root], integrated=T)
cert_signed("fulcio-email2", leaf(root, root_key, emails=("other@osh-sig.test",)), [root])
cert_signed("fulcio-issuer2", leaf(root, root_key, v1="https://other-issuer.osh-sig.test", v8="https://other-issuer.osh-sig.test"), [root])
cert_signed("fulcio-v1only", leaf(root, root_key, v8=None), [root])
cert_signed("fulcio-v8only", leaf(root, root_key, v1=None), [root])
cert_signed("fulcio-inconsistent", leaf(root, root_key, v8="https://other-issuer.osh-sig.test"), [root])
cert_signed("fulcio-noissuer", leaf(root, root_key, v1=None, v8=None), [root])
cert_signed("fulcio-inter", leaf(inter, inter_key), [inter, root])
# The chain annotation's last certificate is taken to be the root and left out: an intermediate
# alone there is not used.
cert_signed("fulcio-inter-only", leaf(inter, inter_key), [inter])
cert_signed("fulcio-otherca", leaf(otherca, otherca_key), [otherca])
cert_signed("fulcio-v8-ia5", leaf(root, root_key, v1=None, v8_tag=0x16), [root])
cert_signed("fulcio-sha512", leaf(root, root_key, digest=hashes.SHA512()), [root])
cert_signed("fulcio-nameconstraints", leaf(inter_nc, nc_key), [inter_nc, root])
cert_signed("fulcio-email-case", leaf(root, root_key, emails=("Dev@osh-sig.test",)), [root])
cert_signed("pki-email", leaf(inter, inter_key, fulcio=False), [inter, root], rekor=False)
cert_signed("pki-nochain", leaf(inter, inter_key, fulcio=False), rekor=False)
cert_signed("pki-dns", leaf(root, root_key, fulcio=False, emails=(), dns=("signer.osh-sig.test",)), rekor=False)
cert_signed("pki-wildcard", leaf(root, root_key, fulcio=False, emails=(), dns=("*.osh-sig.test",)), rekor=False)
cert_signed("pki-twocerts", leaf(root, root_key, fulcio=False), rekor=False, extra_certs=(root,))
cert_signed("pki-expired", leaf(root, root_key, fulcio=False, start=NOW - 10 * DAY, end=NOW - DAY), rekor=False)

# Only an attachment that is not a signature.
own = image("attach-only")
push_sigs(
    "attach-only",
    own,
    [("application/vnd.dsse.envelope.v1+json", b'{"payloadType":"x","payload":"","signatures":[]}', {"predicateType": "osh"})],
)

# Signed by skopeo, cosign and gpg (by the caller), or not at all.
for name in ("skopeo", "cosign", "two-sigs", "mixed", "gpg-only", "unsigned"):
    image(name)

# A list of two platform instances (both signed by the caller with skopeo --all).
instances = []
for arch in ("amd64", "arm64"):
    digest, size = push_image("multi", tag=f"v1-{arch}", arch=arch, label=f"multi {arch}")
    instances.append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        }
    )
images["multi"], _ = push_manifest(
    "osh-sig/multi",
    "v1",
    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": instances},
)

with open(f"{WORK}/digests.tsv", "w") as f:
    for name, digest in images.items():
        f.write(f"{name}\t{digest}\n")
PY
python3 "$work/lab.py" "$DIR" "$work" "$REGISTRY" "$REPO"

digest_of() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$work/digests.tsv"; }

# Signing in place: registry to itself, the manifest kept as is.
skopeo_sign() {
    local name=$1
    shift
    skopeo copy --quiet --policy "$work/accept.json" --src-tls-verify=false --dest-tls-verify=false \
        --preserve-digests "$@" "docker://$REPO/$name:v1" "docker://$REPO/$name:v1"
}
sigstore_by() { printf '%s\n' --sign-by-sigstore-private-key "$work/priv/$1" --sign-passphrase-file "$work/passphrase"; }
mapfile -t by_skopeo < <(sigstore_by skopeo.private)
mapfile -t by_cosign < <(sigstore_by cosign.key)

skopeo_sign skopeo "${by_skopeo[@]}"
# A bad signature first (a key no policy trusts for it), then a good one: two copies.
skopeo_sign two-sigs "${by_cosign[@]}"
skopeo_sign two-sigs "${by_skopeo[@]}"
# skopeo refuses --sign-by with a sigstore key and a passphrase file: two copies. The GPG one
# last, and dropping what the source has: a copy that carries a sigstore signature and writes a
# GPG one writes every signature, the sigstore one too, to the lookaside (c/image 5.34), and a
# pull would then store the sigstore signature twice.
skopeo_sign mixed "${by_skopeo[@]}"
skopeo_sign mixed --remove-signatures --sign-by "$gpg_fpr"
skopeo_sign gpg-only --sign-by "$gpg_fpr"
skopeo_sign multi --all "${by_skopeo[@]}"
# cosign signs by digest and writes the repository without a tag as the identity.
COSIGN_PASSWORD=osh-sigstore cosign sign --yes --key "$work/priv/cosign.key" --tlog-upload=false \
    --allow-insecure-registry --allow-http-registry "$REPO/cosign@$(digest_of cosign)" >/dev/null 2>&1 ||
    die "cosign sign failed"

# ---------------------------------------------------------------------------
# Pull everything into the root's storage, as podman stores it
# ---------------------------------------------------------------------------

: >"$DIR/images.tsv.tmp"
while IFS=$'\t' read -r name digest; do
    podman pull --quiet --tls-verify=false --signature-policy "$work/accept.json" "$REPO/$name:v1" >/dev/null
    printf '%s\t%s\t%s\n' "$name" "$REPO/$name:v1" "$digest" >>"$DIR/images.tsv.tmp"
done <"$work/digests.tsv"
list=$(digest_of multi)
podman pull --quiet --tls-verify=false --signature-policy "$work/accept.json" "$REPO/multi@$list" >/dev/null
printf '%s\t%s\t%s\n' multi@list "$REPO/multi@$list" "$list" >>"$DIR/images.tsv.tmp"
kill "$registry"
wait "$registry" 2>/dev/null || true

# Every image must have arrived with the signatures it was given: the number of stored
# signatures, and how many of them are sigstore ones.
want_count() {
    case $1 in
        unsigned) echo "0 0" ;;
        gpg-only) echo "1 0" ;;
        two-sigs) echo "2 2" ;;
        mixed) echo "2 1" ;;
        multi | multi@list) echo "1 1" ;;
        *) echo "1 1" ;;
    esac
}
while IFS=$'\t' read -r name reference _; do
    id=$(podman image inspect --format '{{.ID}}' "$reference")
    read -r want_all want_sigstore < <(want_count "$name")
    got_all=$(jq -r --arg id "$id" '.[] | select(.id == $id)
        | (.metadata // "{}" | fromjson | .["signature-sizes"] // [] | length)' \
        /lab/storage/overlay-images/images.json)
    got_sigstore=0
    if [[ -s /lab/storage/overlay-images/$id/signatures ]]; then
        got_sigstore=$(tr '\0' '\n' <"/lab/storage/overlay-images/$id/signatures" | grep -c '^sigstore-json$' || true)
    fi
    [[ $got_all == "$want_all" && $got_sigstore == "$want_sigstore" ]] ||
        die "$reference: expected $want_all stored signature(s), $want_sigstore sigstore," \
            "found ${got_all:-no image} and $got_sigstore"
done <"$DIR/images.tsv.tmp"
mv "$DIR/images.tsv.tmp" "$DIR/images.tsv"

gpgconf --kill all 2>/dev/null || true
rm -rf "$work"
cp "$0" "$DIR/prepared"
log "ready: $(wc -l <"$DIR/images.tsv") images in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"
