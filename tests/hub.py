"""A Hugging Face Hub cache laid out as a download leaves it, for tests that run offline.

huggingface_hub resolves a repo id from its cache when it is told it is offline, so the
code under test goes through the real repo-id path without a network.
"""

REVISION = "0123456789abcdef0123456789abcdef01234567"


def offline_hub(monkeypatch, cache, repositories):
    """Serve `{repo_id: local directory}` from a cache under `cache`, and turn the Hub offline."""
    import huggingface_hub  # here, not at the top: pytest imports this file for doctests everywhere

    for repo_id, directory in repositories.items():
        repo = cache / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / REVISION
        snapshot.mkdir(parents=True)
        for path in directory.iterdir():
            (snapshot / path.name).write_bytes(path.read_bytes())
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(REVISION)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
