import batchkit as bk


def test_all_is_sorted_and_complete() -> None:
    public = {n for n in vars(bk) if not n.startswith("_")}
    assert bk.__all__ == sorted(bk.__all__)
    assert public - {"testing", "store", "providers", "cli", "cost", "sinks"} == set(bk.__all__)


def test_importing_batchkit_imports_no_vendor_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, batchkit; "
            "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
