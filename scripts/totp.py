#!/usr/bin/env python3
"""The current RFC 6238 code (HMAC-SHA1, 30 s, 6 digits) for a base32 secret, as an
authenticator app shows it: for the demo login scripts/field-day.sh prints.

Usage: scripts/totp.py SECRET
"""
import base64
import hashlib
import hmac
import struct
import sys
import time

if len(sys.argv) != 2:
    sys.exit(__doc__)
key = base64.b32decode(sys.argv[1].upper() + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time() // 30)), hashlib.sha1).digest()
off = mac[-1] & 0x0F
print("%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000))
