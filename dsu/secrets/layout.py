"""A checkout's encrypted pillar, as `dsu secrets migrate|rotate|add-recipient|remove-recipient`
see it: ``pillar/`` with ``pillar/secrets/provider.yaml``, the operator keys in ``.sops.yaml``
creation rules, and the audit log ``pillar/secrets/audit.jsonl`` (committed beside the files it
describes, so a review of a rotation sees the record in the same change)."""

from dataclasses import dataclass
from pathlib import Path

from dsu.paths import REPO_ROOT
from dsu.secrets import provider
from dsu.secrets.provider import ProviderConfig

AUDIT_FILE = Path("pillar/secrets/audit.jsonl")


def find_root(start: Path | None = None) -> Path:
    """The nearest directory from *start* (default: here) upwards with a provider.yaml, as git
    finds its checkout; this dsu's own checkout when there is none."""
    start = (start or Path.cwd()).resolve()
    for directory in [start, *start.parents]:
        if (directory / "pillar" / provider.PROVIDER_FILE).is_file():
            return directory
    return REPO_ROOT


def layout_for(root: str | None) -> "Layout":
    """The checkout at *root*, or the one found from here up."""
    return Layout(Path(root) if root else find_root())


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def pillar(self) -> Path:
        return self.root / "pillar"

    @property
    def provider_file(self) -> Path:
        return self.pillar / provider.PROVIDER_FILE

    @property
    def sops_config(self) -> Path:
        return self.root / ".sops.yaml"

    @property
    def audit_log(self) -> Path:
        return self.root / AUDIT_FILE

    def relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path.resolve())

    def config(self) -> ProviderConfig:
        """provider.yaml; DsuError when its shape is wrong."""
        return provider.load([self.pillar])

    def sls_path(self, name: str) -> Path:
        return provider.sls_path([self.pillar], name)

    def targets(self, config: ProviderConfig | None = None) -> dict[str, dict[str, list[Path]]]:
        """{target: {"gpg": [files], "sops": [files]}} from provider.yaml."""
        config = config or self.config()
        return {target: {kind: [self.sls_path(n) for n in names] for kind, names in lists.items()}
                for target, lists in config.targets.items()}

    def files(self, kind: str, config: ProviderConfig | None = None) -> list[Path]:
        """Every *kind* file of every target, each once, in provider.yaml's order."""
        config = config or self.config()
        return [self.sls_path(name) for _, name in config.files(kind)]

    def set_provider(self, value: str) -> str:
        return provider.set_provider(self.provider_file, value, self.relative(self.provider_file))
