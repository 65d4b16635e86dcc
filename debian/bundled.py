"""Lists the Python distributions bundled in the venv: name, version, license (for copyright)."""

import importlib.metadata as md

rows = []
for dist in md.distributions():
    meta = dist.metadata
    licence = meta.get("License-Expression") or ""
    if not licence:
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        licence = "; ".join(c.split(" :: ")[-1] for c in classifiers) or meta.get("License") or ""
    licence = " ".join(licence.split())[:80] or "see its dist-info"
    rows.append((meta["Name"].lower(), dist.version, licence))
print("Python distributions in /opt/hellotext-agent/venv (license texts in their dist-info):\n")
for name, version, licence in sorted(set(rows)):
    print(f"{name:24} {version:16} {licence}")
