import batchkit as bk


def test_all_is_sorted_and_complete() -> None:
    for name in bk.__all__:  # lazily loaded names join the module on first access
        getattr(bk, name)
    public = {n for n in vars(bk) if not n.startswith("_")}
    assert bk.__all__ == sorted(bk.__all__)
    assert public - {"testing", "store", "providers", "cli", "cost", "sinks"} == set(bk.__all__)


def test_importing_batchkit_imports_no_vendor_sdk() -> None:
    import subprocess
    import sys

    sdks = ("openai", "anthropic", "google.genai", "google.cloud.storage", "boto3", "cohere",
            "mistralai", "together", "vertexai")
    code = f"import sys, batchkit; print(sorted(m for m in {sdks!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_batchkit_leaves_heavy_modules_for_first_use() -> None:
    """``import batchkit`` stays fast: requests (pydantic), jobs, results and cost load when
    first named."""
    import subprocess
    import sys

    heavy = ("numpy", "pyarrow", "asyncio", "rich", "pydantic", "httpx", "batchkit._job",
             "batchkit._requests", "batchkit.store", "batchkit.cost", "batchkit.testing",
             "batchkit.providers")
    code = (f"import sys, batchkit; print(sorted(m for m in {heavy!r} if m in sys.modules)); "
            "batchkit.ResultSet; print(batchkit.ResultSet.__module__, "
            "'batchkit._results' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "batchkit True"]
