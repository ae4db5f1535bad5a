"""Independent check of CAVRA's model signatures, written from the OpenSSF model-signing format.

It uses the same primitives as the OpenSSF `model_signing` tool (pyca/cryptography for keys and
ECDSA, pathlib's PurePosixPath ordering for resources) without sharing any code with CAVRA:

  verify MODEL_DIR BUNDLE PUBLIC_KEY   exit 0 when the bundle is a valid signature of the model
  sign   MODEL_DIR PRIVATE_KEY OUT     write a key-signed bundle the way `model_signing sign key` does
"""

import base64
import hashlib
import json
import os
import pathlib
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
GIT_PATHS = [".git", ".gitattributes", ".github", ".gitignore"]


def curve_hash(key):
    return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]


def pae(payload):
    return b"DSSEv1 %d %s %d " % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload)) + payload


def hint(public_key):
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def hash_model(model, ignores):
    items = {}
    for root, dirs, files in os.walk(model):
        for name in files:
            path = pathlib.Path(root, name)
            rel = pathlib.PurePosixPath(path.relative_to(model).as_posix())
            if any(rel.is_relative_to(i) for i in ignores):
                continue
            items[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return items


def verify(model, bundle_path, pub_path):
    pub = serialization.load_pem_public_key(pathlib.Path(pub_path).read_bytes())
    bundle = json.loads(pathlib.Path(bundle_path).read_text())
    assert bundle["mediaType"] == MEDIA_TYPE, bundle["mediaType"]
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == hint(pub), "hint mismatch"
    env = bundle["dsseEnvelope"]
    assert env["payloadType"] == PAYLOAD_TYPE
    payload = base64.b64decode(env["payload"], validate=True)
    sig = base64.b64decode(env["signatures"][0]["sig"], validate=True)
    pub.verify(sig, pae(payload), ec.ECDSA(curve_hash(pub)))
    st = json.loads(payload)
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == "https://model_signing/signature/v1.0"
    assert len(st["subject"]) == 1
    ser = st["predicate"]["serialization"]
    assert ser["method"] == "files" and ser["hash_type"] == "sha256"
    root = hashlib.sha256()
    signed = {}
    for r in st["predicate"]["resources"]:
        assert r["algorithm"] == "sha256"
        root.update(bytes.fromhex(r["digest"]))
        signed[pathlib.PurePosixPath(r["name"])] = r["digest"]
    assert root.hexdigest() == st["subject"][0]["digest"]["sha256"], "root digest"
    names = [pathlib.PurePosixPath(r["name"]) for r in st["predicate"]["resources"]]
    assert names == sorted(names), "resources not in PurePosixPath order"
    ignores = [pathlib.PurePosixPath(p) for p in ser.get("ignore_paths", []) + GIT_PATHS]
    actual = hash_model(model, ignores)
    assert actual == signed, "manifest mismatch"


def sign(model, key_path, out):
    key = serialization.load_pem_private_key(pathlib.Path(key_path).read_bytes(), None)
    ignores = [pathlib.PurePosixPath(p) for p in GIT_PATHS]
    items = hash_model(model, ignores)
    root = hashlib.sha256()
    resources = []
    for name, digest in sorted(items.items()):
        root.update(bytes.fromhex(digest))
        resources.append({"algorithm": "sha256", "digest": digest, "name": str(name)})
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": pathlib.Path(model).name, "digest": {"sha256": root.hexdigest()}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                              "ignore_paths": GIT_PATHS},
            "resources": resources,
        },
    }
    payload = json.dumps(statement, indent=2).encode()
    sig = key.sign(pae(payload), ec.ECDSA(curve_hash(key)))
    bundle = {
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint(key.public_key())}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
        },
    }
    pathlib.Path(out).write_text(json.dumps(bundle))


if __name__ == "__main__":
    {"verify": verify, "sign": sign}[sys.argv[1]](*sys.argv[2:])
