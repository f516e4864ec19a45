#!/usr/bin/env bash
# podman5-sigstore-matrix.sh — the sigstore differential matrix: for each (policy, image) cell,
# containers/image 5.34's verdict (the oracle: `podman pull --signature-policy POLICY REF` from the
# corpus registry into a throwaway store) beside the hook's (a real `podman run` of the stored
# image with the hook installed through `--hooks-dir`, once with crun and once with runc).
# Runs INSIDE a podman5.sh root whose corpus tests/lab/podman5-sigstore.sh made; tests/sigstore.rs
# runs it and asserts that every cell agrees.
#
# By hand, with the hook to judge copied into the root (a static build):
#   root=/var/tmp/osh-podman5
#   cp target/debug/oci-signature-hook $root/lab/osh/bin/oci-signature-hook
#   cp tests/lab/podman5-sigstore.sh tests/lab/podman5-sigstore-matrix.sh $root/lab/osh/
#   flock $root/lab/osh/lock bash tests/lab/podman5.sh run $root -- \
#       sh -c 'bash /lab/osh/podman5-sigstore.sh && bash /lab/osh/podman5-sigstore-matrix.sh'
# (flock: one podman5.sh run at a time, as the tests take it.) Arguments select cells: a cell
# runs if its name contains one of them (`... podman5-sigstore-matrix.sh fulcio/ rekor-path/`).
# OSH_SIGSTORE_HOOK names another hook binary in the root.
#
# Prints a TSV on stdout (also kept in /lab/osh/sigstore-matrix/matrix.tsv), one line per cell:
#   cell      POLICY/IMAGE
#   expected  allow or deny: what the corpus was built for, from the rules of containers/image
#             (SEMANTICS.md §9), checked against 5.34; where 5.34 surprised, the note says so
#   oracle    allow, deny, or error (the pull failed for another reason than the policy)
#   crun      the hook's verdict under crun: allow, deny, or error(...) (podman's exit status and
#             the hook's audit record must agree for a verdict)
#   runc      the same under runc
#   oracle_message  podman pull's error, for a deny
#   hook_reason     the reason in the hook's audit record (crun's; runc's after " | runc: " if
#                   it differs)
#   note      why the cell expects what it does
# Each policy is in /lab/osh/sigstore-matrix/policies/NAME.json, its hooks dirs in
# /lab/osh/sigstore-matrix/hooks/NAME-{crun,runc}.
set -euo pipefail

readonly DIR=/lab/osh/sigstore
readonly REGISTRY=127.0.0.1:5000
hook=${OSH_SIGSTORE_HOOK:-/lab/osh/bin/oci-signature-hook}

die() {
    printf 'podman5-sigstore-matrix: error: %s\n' "$*" >&2
    exit 1
}

[[ -f $DIR/prepared && -f $DIR/images.tsv ]] || die "no corpus in $DIR: run podman5-sigstore.sh first"
[[ -x $hook ]] || die "no hook at $hook"

mkdir -p /run/osh-sig
docker-registry serve "$DIR/registry.yml" >/run/osh-sig/registry.log 2>&1 &
registry=$!
up=
for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
[[ -n $up ]] || { cat /run/osh-sig/registry.log >&2; die "docker-registry did not come up"; }

rc=0
python3 - "$hook" "$@" <<'PY' || rc=$?
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HOOK = sys.argv[1]
FILTERS = sys.argv[2:]
DIR = "/lab/osh/sigstore"
K = DIR + "/keys"
M = "/lab/osh/sigstore-matrix"
RUN = "/run/osh-sig"
REGISTRY = "127.0.0.1:5000"
REPO = REGISTRY + "/osh-sig"
MIRROR = REGISTRY + "/osh-mirror"
EMAIL = "dev@osh-sig.test"
ISSUER = "https://issuer.osh-sig.test"
OTHER_ISSUER = "https://other-issuer.osh-sig.test"

IMAGES = {}
with open(f"{DIR}/images.tsv") as f:
    for line in f:
        name, ref, _ = line.rstrip("\n").split("\t")
        IMAGES[name] = ref


def data(name):
    with open(f"{K}/{name}", "rb") as f:
        return base64.b64encode(f.read()).decode()


def ss(**kw):
    return {"type": "sigstoreSigned", **kw}


def key(name):
    return f"{K}/{name}"


def fulcio(ca="ca-root.pem", issuer=ISSUER, data_=False):
    f = {"oidcIssuer": issuer, "subjectEmail": EMAIL}
    if data_:
        f["caData"] = data(ca)
    else:
        f["caPath"] = key(ca)
    return f


GPG = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": key("gpg.gpg")}
REJECT = {"type": "reject"}

# Requirements (for the default scope) or whole policies.
POLICIES = {
    # Public keys: every way to name them, every key type.
    "key-skopeo": ss(keyPath=key("skopeo.pub")),
    "key-cosign": ss(keyPath=key("cosign.pub")),
    "key-cosign-repo": ss(keyPath=key("cosign.pub"), signedIdentity={"type": "matchRepository"}),
    "key-cosign-exactrepo": ss(
        keyPath=key("cosign.pub"),
        signedIdentity={"type": "exactRepository", "dockerRepository": f"{REPO}/cosign"},
    ),
    "key-p256": ss(keyPath=key("p256.pub")),
    "key-p384": ss(keyPath=key("p384.pub")),
    "key-p521": ss(keyPath=key("p521.pub")),
    "key-p224": ss(keyPath=key("p224.pub")),
    "key-preamble": ss(keyPath=key("p256-preamble.pub")),
    "key-ed25519": ss(keyPath=key("ed25519.pub")),
    "key-rsa": ss(keyPath=key("rsa.pub")),
    "key-rsa-pkcs1": ss(keyPath=key("rsa-pkcs1.pub")),
    "keypaths": ss(keyPaths=[key("other.pub"), key("p256.pub")]),
    "keypaths-missing": ss(keyPaths=[key("p256.pub"), key("missing.pub")]),
    "keypaths-empty": ss(keyPaths=[]),
    "keydata": ss(keyData=data("ed25519.pub")),
    "keydatas": ss(keyDatas=[data("rsa-pkcs1.pub"), data("p384.pub")]),
    "key-two-wrong-first": ss(keyPath=key("two-wrong-first.pub")),
    "key-two-right-first": ss(keyPath=key("two-right-first.pub")),
    "key-missing": ss(keyPath=key("missing.pub")),
    "key-dir": ss(keyPath=K),
    "key-garbage": ss(keyPath=key("garbage.pub")),
    # Public keys with Rekor.
    "rekor-path": ss(keyPath=key("p256.pub"), rekorPublicKeyPath=key("rekor.pub")),
    "rekor-paths": ss(keyPath=key("p256.pub"), rekorPublicKeyPaths=[key("rekor2.pub"), key("rekor.pub")]),
    "rekor-data": ss(keyData=data("p256.pub"), rekorPublicKeyData=data("rekor.pub")),
    "rekor-datas": ss(keyPath=key("p256.pub"), rekorPublicKeyDatas=[data("rekor2.pub")]),
    "rekor-keypaths": ss(keyPaths=[key("other.pub"), key("p256.pub")], rekorPublicKeyPath=key("rekor.pub")),
    "rekor-ed25519": ss(keyPath=key("p256.pub"), rekorPublicKeyPath=key("rekor-ed25519.pub")),
    "rekor-missing": ss(keyPath=key("p256.pub"), rekorPublicKeyPath=key("missing-rekor.pub")),
    # Fulcio.
    "fulcio": ss(fulcio=fulcio(), rekorPublicKeyPath=key("rekor.pub")),
    "fulcio-cadata": ss(fulcio=fulcio(data_=True), rekorPublicKeyData=data("rekor.pub")),
    "fulcio-ca-inter": ss(fulcio=fulcio("ca-inter.pem"), rekorPublicKeyPaths=[key("rekor.pub")]),
    "fulcio-rekor2": ss(fulcio=fulcio(), rekorPublicKeyDatas=[data("rekor2.pub")]),
    "fulcio-otherissuer": ss(fulcio=fulcio(issuer=OTHER_ISSUER), rekorPublicKeyPath=key("rekor.pub")),
    "fulcio-norekor": ss(fulcio=fulcio()),
    # PKI.
    "pki": ss(pki={"caRootsPath": key("ca-root.pem"), "subjectEmail": EMAIL}),
    "pki-rootsdata-inter": ss(
        pki={"caRootsData": data("ca-root.pem"), "caIntermediatesPath": key("ca-inter.pem"), "subjectEmail": EMAIL}
    ),
    "pki-interdata": ss(
        pki={"caRootsPath": key("ca-root.pem"), "caIntermediatesData": data("ca-inter.pem"), "subjectEmail": EMAIL}
    ),
    "pki-host": ss(pki={"caRootsPath": key("ca-root.pem"), "subjectHostname": "signer.osh-sig.test"}),
    "pki-host-upper": ss(pki={"caRootsPath": key("ca-root.pem"), "subjectHostname": "SIGNER.OSH-SIG.TEST"}),
    "pki-wrongemail": ss(pki={"caRootsPath": key("ca-root.pem"), "subjectEmail": "other@osh-sig.test"}),
    "pki-wronghost": ss(pki={"caRootsPath": key("ca-root.pem"), "subjectHostname": "other.osh-sig.test"}),
    # signedIdentity.
    "id-exact": ss(keyPath=key("skopeo.pub"), signedIdentity={"type": "matchExact"}),
    "id-repo": ss(keyPath=key("skopeo.pub"), signedIdentity={"type": "matchRepository"}),
    "id-exactref": ss(
        keyPath=key("p256.pub"),
        signedIdentity={"type": "exactReference", "dockerReference": f"{MIRROR}/otherident:v1"},
    ),
    "id-exactref-wrong": ss(
        keyPath=key("p256.pub"),
        signedIdentity={"type": "exactReference", "dockerReference": f"{MIRROR}/otherident:v2"},
    ),
    "id-exactrepo": ss(
        keyPath=key("p256.pub"),
        signedIdentity={"type": "exactRepository", "dockerRepository": f"{MIRROR}/otherident"},
    ),
    "id-remap": ss(
        keyPath=key("p256.pub"),
        signedIdentity={"type": "remapIdentity", "prefix": REPO, "signedPrefix": MIRROR},
    ),
    # GPG, and scopes mixing GPG and sigstore.
    "gpg": GPG,
    "scope-mixed": {
        "default": [REJECT],
        "transports": {"docker": {REPO: [GPG, ss(keyPath=key("skopeo.pub"))]}},
    },
    "scope-repo": {
        "default": [REJECT],
        "transports": {
            "docker": {
                f"{REPO}/p256": [ss(keyPath=key("p256.pub"))],
                REPO: [ss(keyPath=key("skopeo.pub"))],
            }
        },
    },
}

# (policy, image, expected, why). Every policy and every image is in several cells.
CELLS = [
    # skopeo's signer: the tagged reference as identity.
    ("key-skopeo", "skopeo", "allow", "skopeo --sign-by-sigstore-private-key, its public key"),
    ("key-skopeo", "cosign", "deny", "another key (and a tag-less identity)"),
    ("key-skopeo", "p256", "deny", "another key"),
    ("key-skopeo", "unsigned", "deny", "no signature exists"),
    ("key-skopeo", "gpg-only", "deny", "no sigstore signature (1 non-sigstore signatures)"),
    ("key-skopeo", "attach-only", "deny", "no signature (1 sigstore non-signature attachments)"),
    ("key-skopeo", "two-sigs", "allow", "first signature by another key, second good"),
    ("key-skopeo", "mixed", "allow", "the sigstore signature beside a GPG one"),
    ("key-skopeo", "multi", "allow", "list by tag: the platform instance is signed"),
    ("key-skopeo", "multi@list", "allow", "list by digest: digest-only reference, same repository"),
    ("key-skopeo", "garbled", "deny", "another key, broken signature"),
    # cosign's signer: a tag-less identity, optional null.
    ("key-cosign", "cosign", "deny", "tag-less identity fails matchRepoDigestOrExact"),
    ("key-cosign", "two-sigs", "allow", "skopeo signed with the cosign key: tagged identity"),
    ("key-cosign", "skopeo", "deny", "another key"),
    ("key-cosign-repo", "cosign", "allow", "matchRepository accepts the tag-less identity"),
    ("key-cosign-repo", "skopeo", "deny", "another key"),
    ("key-cosign-repo", "two-sigs", "allow", "first signature is by this key, repository matches"),
    ("key-cosign-exactrepo", "cosign", "allow", "exactRepository of the cosign repository"),
    ("key-cosign-exactrepo", "two-sigs", "deny", "key ok but another repository; other signature: other key"),
    ("key-cosign-exactrepo", "unsigned", "deny", "no signature exists"),
    # Key types.
    ("key-p256", "p256", "allow", "ECDSA P-256"),
    ("key-p256", "highs", "allow", "high-S ECDSA: Go verifies it"),
    ("key-p256", "garbled", "deny", "truncated DER signature"),
    ("key-p256", "otherdigest", "deny", "payload for another manifest digest"),
    ("key-p256", "otherident", "deny", "payload for another reference"),
    ("key-p256", "rekor", "allow", "no Rekor key in the policy: the bundle is not looked at"),
    ("key-p256", "rekor-hash", "allow", "no Rekor key: a broken bundle is not looked at"),
    ("key-p256", "rekor-bodysig", "allow", "no Rekor key: a broken bundle is not looked at"),
    ("key-p256", "ed25519", "deny", "another key"),
    ("key-p256", "fulcio", "deny", "key mode ignores the certificate: leaf key is another key"),
    ("key-p384", "p384", "allow", "ECDSA P-384, signature over SHA-256"),
    ("key-p384", "p256", "deny", "another key"),
    ("key-p521", "p521", "allow", "ECDSA P-521, signature over SHA-256; the hook denies it on purpose (docs/semantics.md §13)"),
    ("key-p521", "p256", "deny", "another key"),
    ("key-p256", "p521", "deny", "another key"),
    ("key-p224", "p224", "allow", "ECDSA P-224, signature over SHA-256; the hook denies it on purpose (docs/semantics.md §13)"),
    ("key-p224", "p521", "deny", "another key"),
    ("key-preamble", "p256", "allow", "text before the PEM block is skipped"),
    ("key-preamble", "highs", "allow", "text before the PEM block is skipped (high-S)"),
    ("key-p256", "sig-newline", "allow", "a line break in the signature's base64 is skipped"),
    ("key-two-right-first", "sig-newline", "allow", "a line break in the signature's base64 is skipped"),
    ("key-p256", "payload-extra", "deny", "payload with an unknown field in critical"),
    ("keypaths", "payload-extra", "deny", "payload with an unknown field in critical"),
    ("key-ed25519", "ed25519", "allow", "Ed25519 over the payload"),
    ("key-ed25519", "rsa", "deny", "another key"),
    ("key-rsa", "rsa", "allow", "RSA PKCS#1 v1.5 SHA-256, PKIX key file, optional null"),
    ("key-rsa", "p384", "deny", "another key"),
    ("key-rsa-pkcs1", "rsa", "allow", "the same key as an RSA PUBLIC KEY (PKCS#1) file"),
    ("key-rsa-pkcs1", "p256", "deny", "another key"),
    ("keypaths", "p256", "allow", "second of two key files"),
    ("keypaths", "skopeo", "deny", "neither key"),
    ("keypaths", "garbled", "deny", "truncated signature, both keys tried"),
    ("keypaths", "otherdigest", "deny", "payload for another manifest digest"),
    ("keypaths-missing", "p256", "deny", "one of the key files is missing"),
    ("keypaths-missing", "unsigned", "deny", "no signature: keys never read"),
    ("keypaths-empty", "p256", "deny", "keyPaths [] is an invalid policy"),
    ("keypaths-empty", "skopeo", "deny", "keyPaths [] is an invalid policy"),
    ("keydata", "ed25519", "allow", "keyData"),
    ("keydata", "p256", "deny", "another key"),
    ("keydatas", "rsa", "allow", "keyDatas, first (PKCS#1)"),
    ("keydatas", "p384", "allow", "keyDatas, second"),
    ("keydatas", "ed25519", "deny", "neither key"),
    ("key-two-wrong-first", "p256", "deny", "only the first PEM block counts: the wrong key"),
    ("key-two-wrong-first", "skopeo", "deny", "neither key"),
    ("key-two-right-first", "p256", "allow", "the first PEM block is the key"),
    ("key-two-right-first", "highs", "allow", "the first PEM block is the key (high-S)"),
    ("key-missing", "p256", "deny", "key file missing"),
    ("key-missing", "unsigned", "deny", "no signature: key never read"),
    ("key-dir", "p256", "deny", "key path is a directory"),
    ("key-dir", "unsigned", "deny", "no signature: key never read"),
    ("key-garbage", "p256", "deny", "key file is not PEM"),
    ("key-garbage", "skopeo", "deny", "key file is not PEM"),
    # Rekor SETs with public keys.
    ("rekor-path", "rekor", "allow", "SET by the Rekor key over the key's entry"),
    ("rekor-path", "p256", "deny", "no bundle annotation"),
    ("rekor-path", "highs", "deny", "no bundle annotation"),
    ("rekor-path", "rekor-other", "deny", "SET by another Rekor key"),
    ("rekor-path", "rekor-hash", "deny", "SET body hash of another payload"),
    ("rekor-path", "rekor-bodykey", "deny", "SET body has another public key"),
    ("rekor-path", "rekor-bodysig", "deny", "SET body has another signature"),
    ("rekor-path", "rekor-noncanon", "deny", "SET signed over non-canonical bytes"),
    ("rekor-path", "rekor-noncanon-ok", "allow", "SET sent non-canonical, signed canonical"),
    ("rekor-path", "unsigned", "deny", "no signature exists"),
    ("rekor-paths", "rekor", "allow", "second Rekor key"),
    ("rekor-paths", "rekor-other", "allow", "first Rekor key"),
    ("rekor-paths", "rekor-noncanon-ok", "allow", "canonicalized before the SET check"),
    ("rekor-data", "rekor", "allow", "keyData + rekorPublicKeyData"),
    ("rekor-data", "rekor-other", "deny", "SET by another Rekor key"),
    ("rekor-data", "rekor-noncanon", "deny", "SET signed over non-canonical bytes"),
    ("rekor-datas", "rekor-other", "allow", "rekorPublicKeyDatas"),
    ("rekor-datas", "rekor", "deny", "SET by a Rekor key not listed"),
    ("rekor-keypaths", "rekor", "allow", "SET matches the second key file"),
    ("rekor-keypaths", "rekor-bodykey", "deny", "SET matches the first key (its entry), which did not sign"),
    ("rekor-ed25519", "rekor", "deny", "Rekor key is not ECDSA"),
    ("rekor-ed25519", "rekor-other", "deny", "Rekor key is not ECDSA"),
    ("rekor-missing", "rekor", "deny", "Rekor key file missing"),
    ("rekor-missing", "p256", "deny", "Rekor key file missing"),
    # Fulcio.
    ("fulcio", "fulcio", "allow", "CodeSigning, e-mail, issuer v1+v8, SET over the certificate"),
    ("fulcio", "fulcio-noeku", "allow", "no EKU extension: Go reads it as any usage (5.34)"),
    ("fulcio", "fulcio-serverauth", "deny", "EKU without CodeSigning"),
    ("fulcio", "fulcio-expired-now", "allow", "expired now, valid at integratedTime"),
    ("fulcio", "fulcio-expired-at-set", "deny", "expired at integratedTime"),
    ("fulcio", "fulcio-notyet", "deny", "not yet valid at integratedTime"),
    ("fulcio", "fulcio-email2", "deny", "another e-mail"),
    ("fulcio", "fulcio-issuer2", "deny", "another OIDC issuer"),
    ("fulcio", "fulcio-v1only", "allow", "issuer in the v1 extension only"),
    ("fulcio", "fulcio-v8only", "allow", "issuer in the v8 extension only"),
    ("fulcio", "fulcio-v8-ia5", "allow", "v8 issuer as an IA5String"),
    ("fulcio-cadata", "fulcio-v8-ia5", "allow", "v8 issuer as an IA5String"),
    ("fulcio", "fulcio-sha512", "allow", "leaf signed with ECDSA-SHA512; the hook denies it on purpose (docs/semantics.md §13)"),
    ("fulcio-cadata", "fulcio-sha512", "allow", "leaf signed with ECDSA-SHA512; the hook denies it on purpose (docs/semantics.md §13)"),
    ("fulcio", "fulcio-nameconstraints", "allow", "intermediate with an e-mail name constraint the leaf meets; the hook denies it on purpose (docs/semantics.md §13)"),
    ("fulcio-ca-inter", "fulcio-nameconstraints", "deny", "leaf from another intermediate"),
    ("fulcio", "fulcio-email-case", "deny", "e-mail compared exactly: Dev@ is not dev@"),
    ("fulcio-cadata", "fulcio-email-case", "deny", "e-mail compared exactly"),
    ("fulcio", "fulcio-inconsistent", "deny", "v1 and v8 issuers differ"),
    ("fulcio", "fulcio-noissuer", "deny", "no issuer extension"),
    ("fulcio", "fulcio-inter", "allow", "leaf from the intermediate, chain [intermediate, root]"),
    ("fulcio", "fulcio-inter-only", "deny", "chain [intermediate]: its last certificate is dropped"),
    ("fulcio", "fulcio-otherca", "deny", "leaf from another CA"),
    ("fulcio", "pki-email", "deny", "no bundle annotation"),
    ("fulcio", "rekor", "deny", "no certificate annotation"),
    ("fulcio", "p256", "deny", "no bundle annotation"),
    ("fulcio", "unsigned", "deny", "no signature exists"),
    ("fulcio", "attach-only", "deny", "no signature (1 sigstore non-signature attachments)"),
    ("fulcio-cadata", "fulcio", "allow", "caData + rekorPublicKeyData"),
    ("fulcio-cadata", "fulcio-otherca", "deny", "leaf from another CA"),
    ("fulcio-cadata", "fulcio-noeku", "allow", "no EKU extension (5.34)"),
    ("fulcio-cadata", "fulcio-serverauth", "deny", "EKU without CodeSigning"),
    ("fulcio-cadata", "fulcio-expired-now", "allow", "valid at integratedTime"),
    ("fulcio-cadata", "fulcio-expired-at-set", "deny", "expired at integratedTime"),
    ("fulcio-cadata", "fulcio-notyet", "deny", "not yet valid at integratedTime"),
    ("fulcio-cadata", "fulcio-v1only", "allow", "issuer v1 only"),
    ("fulcio-cadata", "fulcio-v8only", "allow", "issuer v8 only"),
    ("fulcio-cadata", "fulcio-email2", "deny", "another e-mail"),
    ("fulcio-cadata", "fulcio-inter-only", "deny", "chain [intermediate]: dropped"),
    ("fulcio-ca-inter", "fulcio-inter-only", "allow", "the intermediate is the trust anchor"),
    ("fulcio-ca-inter", "fulcio-inter", "allow", "the intermediate is the trust anchor"),
    ("fulcio-ca-inter", "fulcio", "deny", "leaf from the root, which is not trusted"),
    ("fulcio-ca-inter", "fulcio-otherca", "deny", "leaf from another CA"),
    ("fulcio-rekor2", "fulcio", "deny", "SET by a Rekor key not listed"),
    ("fulcio-rekor2", "fulcio-inter", "deny", "SET by a Rekor key not listed"),
    ("fulcio-otherissuer", "fulcio-issuer2", "allow", "the other issuer is the one required"),
    ("fulcio-otherissuer", "fulcio", "deny", "issuer is not the one required"),
    ("fulcio-otherissuer", "fulcio-inconsistent", "deny", "v1 and v8 issuers differ"),
    ("fulcio-otherissuer", "fulcio-noissuer", "deny", "no issuer extension"),
    ("fulcio-norekor", "fulcio", "deny", "fulcio without a Rekor key is an invalid policy"),
    ("fulcio-norekor", "unsigned", "deny", "fulcio without a Rekor key is an invalid policy"),
    # PKI: no Rekor, chains checked now.
    ("pki", "pki-email", "allow", "leaf from the intermediate given in the chain annotation"),
    ("pki", "pki-nochain", "deny", "leaf from the intermediate, no chain, none configured"),
    ("pki", "pki-expired", "deny", "leaf expired now"),
    ("pki", "pki-dns", "deny", "no e-mail SAN"),
    ("pki", "fulcio", "allow", "a Fulcio-style leaf is a valid PKI leaf (no Rekor needed)"),
    ("pki", "unsigned", "deny", "no signature exists"),
    ("pki", "p256", "deny", "no certificate annotation"),
    ("pki", "attach-only", "deny", "no signature (1 sigstore non-signature attachments)"),
    ("pki-rootsdata-inter", "pki-nochain", "allow", "caRootsData + configured intermediate"),
    ("pki-rootsdata-inter", "pki-email", "allow", "caRootsData, intermediate from both sides"),
    ("pki-rootsdata-inter", "pki-expired", "deny", "leaf expired now"),
    ("pki-interdata", "pki-nochain", "allow", "caIntermediatesData"),
    ("pki-interdata", "fulcio-otherca", "deny", "leaf from another CA"),
    ("pki-host", "pki-dns", "allow", "subjectHostname matches the DNS SAN"),
    ("pki-host", "pki-email", "deny", "no DNS SAN"),
    ("pki-host", "pki-wildcard", "allow", "a wildcard DNS SAN matches"),
    ("pki-wronghost", "pki-wildcard", "allow", "a wildcard DNS SAN matches the other name too"),
    ("pki", "pki-wildcard", "deny", "no e-mail SAN"),
    ("pki-host-upper", "pki-dns", "allow", "hostnames compare without case"),
    ("pki-host-upper", "pki-email", "deny", "no DNS SAN"),
    ("pki", "pki-twocerts", "deny", "two certificates in the certificate annotation"),
    ("pki-rootsdata-inter", "pki-twocerts", "deny", "two certificates in the certificate annotation"),
    ("pki-wrongemail", "pki-email", "deny", "another e-mail required"),
    ("pki-wrongemail", "pki-dns", "deny", "another e-mail required"),
    ("pki-wronghost", "pki-dns", "deny", "another hostname required"),
    ("pki-wronghost", "pki-email", "deny", "another hostname required"),
    # signedIdentity.
    ("id-exact", "skopeo", "allow", "matchExact, same tagged reference"),
    ("id-exact", "multi", "allow", "matchExact, by tag"),
    ("id-exact", "multi@list", "deny", "matchExact: digest reference vs tagged signature"),
    ("id-repo", "skopeo", "allow", "matchRepository"),
    ("id-repo", "multi@list", "allow", "matchRepository, by digest"),
    ("id-repo", "cosign", "deny", "another key"),
    ("id-exactref", "otherident", "allow", "exactReference of the signed mirror reference"),
    ("id-exactref", "p256", "deny", "signed reference is not the configured one"),
    ("id-exactref-wrong", "otherident", "deny", "configured tag differs"),
    ("id-exactref-wrong", "p256", "deny", "signed reference is not the configured one"),
    ("id-exactrepo", "otherident", "allow", "exactRepository of the mirror repository"),
    ("id-exactrepo", "p256", "deny", "another repository signed"),
    ("id-remap", "otherident", "allow", "osh-sig remapped to osh-mirror matches the signed reference"),
    ("id-remap", "p256", "deny", "remapped to osh-mirror, but signed for osh-sig"),
    # GPG and sigstore in one policy.
    ("gpg", "mixed", "allow", "signedBy sees the GPG signature"),
    ("gpg", "gpg-only", "allow", "signedBy"),
    ("gpg", "skopeo", "deny", "sigstore signatures are invisible to signedBy"),
    ("gpg", "multi", "deny", "no GPG signature"),
    ("scope-mixed", "mixed", "allow", "both requirements of the repository scope"),
    ("scope-mixed", "skopeo", "deny", "no GPG signature"),
    ("scope-mixed", "gpg-only", "deny", "no sigstore signature"),
    ("scope-repo", "p256", "allow", "repository scope over the namespace scope"),
    ("scope-repo", "skopeo", "allow", "namespace scope"),
    ("scope-repo", "ed25519", "deny", "namespace scope: another key"),
    ("scope-repo", "multi@list", "allow", "namespace scope, by digest"),
]

RECORD_WAIT = 1.0


def main():
    cells = [c for c in CELLS if not FILTERS or any(f in f"{c[0]}/{c[1]}" for f in FILTERS)]
    for policy, image, _, _ in cells:
        assert policy in POLICIES and image in IMAGES, (policy, image)
    shutil.rmtree(M, ignore_errors=True)
    os.makedirs(f"{M}/policies")
    os.makedirs(f"{RUN}/tmp", exist_ok=True)

    records, cond = [], threading.Condition()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(f"{RUN}/log")

    def collect():
        while True:
            rec = sock.recv(1 << 16).decode(errors="replace")
            with cond:
                records.append(rec)
                cond.notify_all()

    threading.Thread(target=collect, daemon=True).start()

    for name in sorted({c[0] for c in cells}):
        req = POLICIES[name]
        policy = req if "default" in req else {"default": [req]}
        with open(f"{M}/policies/{name}.json", "w") as f:
            json.dump(policy, f, indent=1)
        for rt in ("crun", "runc"):
            hooks = f"{M}/hooks/{name}-{rt}"
            os.makedirs(hooks)
            hook = {
                "version": "1.0.0",
                "hook": {
                    "path": HOOK,
                    "args": [
                        "oci-signature-hook",
                        "--policy", f"{M}/policies/{name}.json",
                        "--cache-dir", f"{RUN}/cache/{name}-{rt}",
                        "--syslog-socket", f"{RUN}/log",
                    ],
                    "env": [f"TMPDIR={RUN}/tmp"],
                },
                "when": {"always": True},
                "stages": ["prestart"],
            }
            with open(f"{hooks}/oci-signature-hook.json", "w") as f:
                json.dump(hook, f)

    def run(cmd, env=None):
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)

    oracle_env = dict(os.environ, HOME=f"{DIR}/home")

    def oracle(policy, ref):
        p = run(
            [
                "podman", "--root", f"{RUN}/oracle", "--runroot", f"{RUN}/oracle-run", "--storage-driver", "vfs",
                "pull", "--quiet", "--tls-verify=false", "--signature-policy", f"{M}/policies/{policy}.json", ref,
            ],
            oracle_env,
        )
        if p.returncode == 0:
            return "allow", ""
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        msg = lines[-1] if lines else f"exit status {p.returncode}"
        msg = re.sub(r"^Error: ", "", msg)
        verdict = "deny" if "Source image rejected" in msg or "policy" in msg.lower() else "error"
        return verdict, msg

    def hook_run(policy, ref, rt):
        with cond:
            seen = len(records)
        p = run(
            [
                "podman", "--hooks-dir", f"{M}/hooks/{policy}-{rt}", "--runtime", rt,
                "run", "--rm", "--pull=never", ref, "echo", "started",
            ]
        )
        end = time.monotonic() + RECORD_WAIT
        with cond:
            while len(records) == seen and time.monotonic() < end:
                cond.wait(end - time.monotonic())
            new = records[seen:]
        err = p.stderr.strip().replace("\n", " / ")
        if p.returncode == 0 and "started" in p.stdout:
            verdict = "allow"
        elif p.returncode == 126 and (
            "error executing hook" in err if rt == "crun" else "oci-signature-hook: blocked container start" in err
        ):
            verdict = "deny"
        else:
            verdict = f"error(exit {p.returncode}: {err[:200]})"
        if len(new) != 1:
            return f"error({len(new)} audit records; podman: {verdict})", ""
        rec = new[0]
        m = re.search(r'(?:^| )reason=(?:"((?:[^"\\]|\\.)*)"|(\S+))', rec)
        reason = re.sub(r"\\(.)", r"\1", m.group(1)) if m and m.group(1) is not None else m.group(2) if m else rec
        m = re.search(r"verdict=(\S+)", rec)
        said = m.group(1) if m else "?"
        if verdict in ("allow", "deny") and said != verdict:
            verdict = f"error(podman: {verdict}, audit record: {said})"
        return verdict, reason

    print("cell\texpected\toracle\tcrun\trunc\toracle_message\thook_reason\tnote", flush=True)
    lines = []
    for policy, image, expected, note in cells:
        ref = IMAGES[image]
        o, omsg = oracle(policy, ref)
        c, creason = hook_run(policy, ref, "crun")
        r, rreason = hook_run(policy, ref, "runc")
        reason = creason if rreason == creason else f"{creason} | runc: {rreason}"
        row = [f"{policy}/{image}", expected, o, c, r, omsg, reason, note]
        line = "\t".join(x.replace("\t", " ").replace("\n", " ") for x in row)
        lines.append(line)
        print(line, flush=True)
    with open(f"{M}/matrix.tsv", "w") as f:
        f.write("\n".join(lines) + "\n")


main()
PY
kill "$registry" 2>/dev/null || true
wait "$registry" 2>/dev/null || true
exit "$rc"
