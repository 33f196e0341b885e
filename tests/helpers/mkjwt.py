#!/usr/bin/env python3
"""Test tokens for sluice, made with the openssl command line.

  mkjwt.py key rsa|ec KEY.pem            a new private key
  mkjwt.py jwks KID=KEY.pem ...          the JWKS of those keys' public halves
  mkjwt.py sign KEY.pem HEADER CLAIMS    a compact JWS; HEADER and CLAIMS are
                                         JSON; "alg" says how: RS256, ES256,
                                         none (no signature), or HS256 keyed
                                         with KEY's public PEM (the classic
                                         key-confusion attack)
"""
import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def text_hex(text, label):
    """The colon-separated hex block after LABEL in openssl's -text output."""
    m = re.search(label + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))


def jwk(kid, key):
    text = openssl("pkey", "-in", key, "-noout", "-text").decode()
    if "prime256v1" in text or "P-256" in text:
        pub = text_hex(text, "pub")
        assert pub[0] == 4 and len(pub) == 65
        return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                "x": b64url(pub[1:33]), "y": b64url(pub[33:])}
    n = text_hex(text, "modulus").lstrip(b"\0")
    e = int(re.search(r"publicExponent: (\d+)", text).group(1))
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url(n),
            "e": b64url(e.to_bytes((e.bit_length() + 7) // 8, "big"))}


def der_to_raw(der):
    """ECDSA-Sig-Value (SEQUENCE of two INTEGERs) to r || s, 32 bytes each."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def sign(key, header, claims):
    h = json.loads(header)
    signing_input = (b64url(json.dumps(h, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(json.loads(claims), separators=(",", ":")).encode()))
    alg = h.get("alg")
    if alg == "none":
        sig = b""
    elif alg == "HS256":
        pem = openssl("pkey", "-in", key, "-pubout")
        sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    else:
        sig = openssl("dgst", "-sha256", "-sign", key, data=signing_input.encode())
        if alg == "ES256":
            sig = der_to_raw(sig)
    return signing_input + "." + b64url(sig)


def main(argv):
    if argv[1] == "key":
        args = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if argv[2] == "rsa"
                else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        openssl("genpkey", *args, "-out", argv[3])
    elif argv[1] == "jwks":
        print(json.dumps({"keys": [jwk(*a.split("=", 1)) for a in argv[2:]]}))
    elif argv[1] == "sign":
        print(sign(argv[2], argv[3], argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
