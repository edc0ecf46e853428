"""Text helpers of caffi 1.0 (``caffi.compat``), kept for scripts that import them."""

__all__ = ["basestring", "to_bytes", "to_string"]

basestring = (str, bytes)


def to_bytes(str_val):
    """*str_val* as bytes (UTF-8 for str)."""
    if isinstance(str_val, bytes):
        return str_val
    return str_val.encode("utf8")


def to_string(bytes_val):
    """*bytes_val* as str (UTF-8)."""
    if isinstance(bytes_val, str):
        return bytes_val
    return bytes_val.decode("utf8")
