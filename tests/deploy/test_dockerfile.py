"""The image's rules, read from the Dockerfile (no docker engine here to build it): several
stages, a pinned base, the locked dependencies installed with uv in a builder, and a final
stage with no build tools that runs as the non-root user the manifests expect."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from deploy.manifests import ROOT, Manifests, containers, pod_spec, runs_our_image

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|cc|make|build-essential|cargo|rustc|uv|pip)\b")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def lines(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined."""
    text = re.sub(r"\\\n", " ", text)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip()))
        elif keyword == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append((keyword, " ".join(rest.split())))
    return args, stages


def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse((ROOT / "Dockerfile").read_text())


def resolve(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], value)


def test_builds_in_stages_from_a_pinned_base() -> None:
    args, stages = dockerfile()
    assert len(stages) >= 2
    for stage in stages:
        image = resolve(stage.base, args)
        repository, _, tag = image.partition(":")
        assert repository == "python", image
        # An exact release (3.11.x) on a named Debian, or a digest: never a moving tag.
        assert re.fullmatch(r"3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", tag), image


def test_the_builder_installs_the_lock_with_the_makefiles_uv() -> None:
    _, stages = dockerfile()
    builder = stages[0]
    runs = " ".join(builder.lines("RUN"))
    make_uv = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert make_uv is not None
    assert f"uv=={make_uv.group(1)}" in runs
    assert re.search(r"uv pip install .*--constraint requirements\.lock", runs)
    assert any("requirements.lock" in c for c in builder.lines("COPY"))


def test_the_final_stage_has_the_venv_and_no_build_tools() -> None:
    _, stages = dockerfile()
    final = stages[-1]
    assert any(c.startswith(f"--from={stages[0].name} /opt/dandelion") for c in final.lines("COPY"))
    # Only the venv comes in: no sources, tests or lock files.
    assert all(c.startswith("--from=") for c in final.lines("COPY"))
    for run in final.lines("RUN"):
        assert "install" not in run, run  # no apt-get/pip install in the final stage
        assert not BUILD_TOOLS.search(run), run


def test_it_runs_as_a_numeric_non_root_user_with_temp_files_in_tmp() -> None:
    _, stages = dockerfile()
    final = stages[-1]
    (user,) = final.lines("USER")
    uid, _, gid = user.partition(":")
    assert re.fullmatch(r"[1-9]\d*", uid), user  # numeric, so runAsNonRoot can verify it
    assert re.fullmatch(r"[1-9]\d*", gid), user
    env = " ".join(final.lines("ENV"))
    assert "TMPDIR=/tmp" in env
    assert "HOME=/tmp" in env  # the root filesystem is read-only in Kubernetes


def test_the_entrypoint_is_the_projects_command() -> None:
    _, stages = dockerfile()
    (entrypoint,) = stages[-1].lines("ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == '["dandelion"]'
    assert "dandelion" in scripts


def test_the_manifests_run_the_images_user(manifests: Manifests) -> None:
    _, stages = dockerfile()
    (user,) = stages[-1].lines("USER")
    uid, _, gid = user.partition(":")
    for w in manifests.workloads():
        if any(runs_our_image(c) for c in containers(w)):
            security = pod_spec(w)["securityContext"]
            assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid))


def test_only_what_the_image_needs_is_sent_to_the_build() -> None:
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*"  # an allow-list: .venv, .git, .dandelion and tests stay out
    allowed = {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {"requirements.lock", "pyproject.toml", "README.md", "libs", "services"}
    _, stages = dockerfile()
    sources = {src.rstrip("/") for c in stages[0].lines("COPY") for src in c.split()[:-1]}
    assert sources == allowed  # everything sent is used, everything used is sent


def test_the_parser_sees_a_compiler_installed_in_the_final_stage() -> None:
    """The checks above can fail."""
    text = (ROOT / "Dockerfile").read_text() + "\nRUN apt-get install -y gcc\n"
    _, stages = parse(text)
    assert any("gcc" in run for run in stages[-1].lines("RUN"))
