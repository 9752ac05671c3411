"""Known library notices dropped where they arise, and only they: the log-message filter, the one
import that triggers transformers' torchvision notice, and the cache's saves and loads without
the libraries' own progress bars."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from helpers import tiny_pipeline
from mialib.core import cache
from mialib.core.progress import library_bars_off
from mialib.core.quiet import dropping_log_message


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_dropping_a_log_message_drops_only_it_and_only_in_the_block():
    logger = logging.getLogger("mialib.tests.quiet")
    seen = _Collect()
    logger.addHandler(seen)
    try:
        with dropping_log_message("mialib.tests.quiet", "requires torchvision"):
            logger.warning("`X` requires torchvision (not installed)")
            logger.warning("a notice that matters")
            logging.getLogger("mialib.tests.quiet.child").warning("a child's requires torchvision")
        logger.warning("after: `X` requires torchvision (not installed)")
    finally:
        logger.removeHandler(seen)
    assert seen.messages == ["a notice that matters", "a child's requires torchvision",
                             "after: `X` requires torchvision (not installed)"]
    assert not logger.filters


def _stderr_of(code: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TRANSFORMERS_VERBOSITY", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_the_pipeline_class_comes_without_the_torchvision_notice_and_other_notices_pass():
    # a fresh process: transformers says it once per process, when StableDiffusionPipeline is first imported
    err = _stderr_of("from mialib.core import cache\n"
                     "assert cache._component_class('StableDiffusionPipeline').__name__ == 'StableDiffusionPipeline'\n"
                     "import logging\n"
                     "logging.getLogger('transformers.utils.import_utils').warning('another notice')\n")
    assert "requires torchvision" not in err and "another notice" in err


def test_the_control_plain_import_does_show_the_torchvision_notice():
    # if transformers stops saying it, the test above proves nothing: this one then fails
    assert "requires torchvision" in _stderr_of("from diffusers import StableDiffusionPipeline")


def _bars_enabled():
    from diffusers.utils import logging as d
    from transformers.utils import logging as t
    import huggingface_hub.utils as hub
    return d.is_progress_bar_enabled(), t.is_progress_bar_enabled(), not hub.are_progress_bars_disabled()


def test_library_bars_are_off_in_the_block_and_restored_after():
    from diffusers.utils import logging as d
    from transformers.utils import logging as t
    assert _bars_enabled() == (True, True, True)
    with library_bars_off():
        assert _bars_enabled() == (False, False, False)
    assert _bars_enabled() == (True, True, True)
    d.disable_progress_bar()  # a reader's own choice stays as it was
    try:
        with library_bars_off():
            assert _bars_enabled() == (False, False, False)
        assert _bars_enabled() == (False, True, True)
    finally:
        d.enable_progress_bar()
    t.disable_progress_bar()
    try:
        with library_bars_off():
            pass
        assert _bars_enabled() == (True, False, False)
    finally:
        t.enable_progress_bar()


def test_the_cache_saves_and_loads_a_pipeline_without_library_bars_even_with_progress_on(
        tmp_path, monkeypatch, capfd):
    # ./run_all.sh and the tests set MIALIB_PROGRESS=0, which never reached these bars: check with it on
    monkeypatch.setenv("MIALIB_PROGRESS", "1")
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    pipe = tiny_pipeline(tmp_path / "tok")[0]
    capfd.readouterr()
    cache.save_entry("t2i", {"pipeline": pipe}, {"steps": 1})
    components, _ = cache.load_entry("t2i")
    err = capfd.readouterr().err
    assert type(components["pipeline"]).__name__ == "StableDiffusionPipeline"
    for bar in ("Writing model shards", "Loading weights", "Loading pipeline components", "%|"):
        assert bar not in err, err
    assert _bars_enabled() == (True, True, True)
