"""Write pickle samples for the scanner tests into the directory given as argv[1].

Only pickle.dumps is used: the payload callables are serialised by reference and never run,
and nothing here is ever unpickled. File names start with the verdict the scanner must give.
"""
import collections
import os
import pickle
import subprocess
import sys


class OsSystem:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


class Popen:
    def __reduce__(self):
        return (subprocess.Popen, (["echo", "pwned"],))


class Exec:
    def __reduce__(self):
        return (exec, ("x = 1",))


class GetattrChain:
    def __reduce__(self):
        return (getattr, (collections.OrderedDict, "fromkeys"))


class Custom:
    def __init__(self):
        self.weights = [1.0, 2.0]


def main(out):
    os.makedirs(out, exist_ok=True)

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    benign = {
        "layers": [1, 2, 3],
        "name": "model",
        "scale": 0.5,
        "blob": b"\x00\x01\x02" * 100,
        "order": collections.OrderedDict(a=1, b=2),
        "tags": {"x", "y"},
        "nested": (1, (2, (3, None))),
    }
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        write(f"clean_p{proto}.pkl", pickle.dumps(benign, protocol=proto))
        write(f"malicious_os_system_p{proto}.pkl", pickle.dumps(OsSystem(), protocol=proto))
        write(f"malicious_eval_p{proto}.pkl", pickle.dumps({"a": [Eval()]}, protocol=proto))
        write(f"malicious_popen_p{proto}.pkl", pickle.dumps(Popen(), protocol=proto))
        write(f"malicious_getattr_p{proto}.pkl", pickle.dumps(GetattrChain(), protocol=proto))
        write(f"suspicious_custom_p{proto}.pkl", pickle.dumps(Custom(), protocol=proto))
    # Stacked: a harmless pickle followed by a malicious one.
    write("malicious_stacked.pkl", pickle.dumps([1, 2]) + pickle.dumps(Exec(), protocol=2))
    # Truncated after the dangerous import.
    data = pickle.dumps(OsSystem(), protocol=4)
    write("malicious_truncated.pkl", data[: len(data) - 8])
    # Evasion: no extension, so detection is by content alone.
    write("malicious_noext", pickle.dumps(OsSystem(), protocol=0))
    write("malicious_joblib.joblib", pickle.dumps(Popen(), protocol=3))


if __name__ == "__main__":
    main(sys.argv[1])
