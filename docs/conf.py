"""Sphinx configuration of the spikefab documentation (``make docs``).

Pages are Markdown (MyST). API pages come from the numpydoc docstrings (autodoc + napoleon);
``sphinx.ext.doctest`` runs the examples (``make docs`` runs its doctest builder after the
HTML); ``sphinxcontrib.programoutput`` puts the real ``spikefab <command> --help`` into each
command page when the site is built.
"""

import os
import sys
from importlib.metadata import PackageNotFoundError, version as _version

project = "spikefab"
author = "the spikefab developers"
copyright = "2026, the spikefab developers"
try:
    release = _version("spikefab")
except PackageNotFoundError:            # building from a tree that was never installed
    release = "unknown"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinxcontrib.programoutput",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST ------------------------------------------------------------------------------------
# Heading anchors let pages link to a section (design.md#4-cycle-model), as GitHub does.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# -- autodoc + napoleon (numpydoc) -----------------------------------------------------------
# A module's page shows what the module defines: the names it re-exports in ``__all__`` are
# documented where they are defined (one target per name for cross-references).
autodoc_default_options = {"members": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"              # the docstrings state the types
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# spikefab's blocks document their ports in a "Members" section (Amaranth's style).
napoleon_custom_sections = [("Members", "params_style")]

# -- doctest ---------------------------------------------------------------------------------
# The builder runs the pages' own examples (testcode/testoutput, doctest directives). The
# ``>>>`` examples of the docstrings run where they live, with their module's globals
# (tests/test_doctests.py, doctest.testmod), not here in a bare namespace.
doctest_test_doctest_blocks = ""
doctest_global_setup = "import numpy as np"

# -- programoutput ---------------------------------------------------------------------------
# `spikefab` is the console script of the interpreter that runs Sphinx (the project's .venv
# under `make docs`); a fixed terminal width keeps argparse's wrapping the same everywhere.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
os.environ["COLUMNS"] = "96"
programoutput_prompt_template = "$ {command}\n{output}"

# -- HTML ------------------------------------------------------------------------------------
try:
    import furo  # noqa: F401
    html_theme = "furo"
except ImportError:                     # the docs extra installs furo; alabaster is built in
    html_theme = "alabaster"
html_title = f"spikefab {release}"


# -- signatures ------------------------------------------------------------------------------
def _init_signature(app, what, name, obj, options, signature, return_annotation):
    """Show a block's constructor, ``EventQueue(addr_bits, depth)``: Amaranth's
    ``Elaboratable.__new__(*args, src_loc_at=0, **kwargs)`` would hide it."""
    import inspect
    if what == "class" and signature and "src_loc_at" in signature and "__init__" in vars(obj):
        try:
            init = inspect.signature(obj.__init__)
        except (TypeError, ValueError):
            return None
        parameters = list(init.parameters.values())[1:]          # without self
        return str(init.replace(parameters=parameters, return_annotation=inspect._empty)), None
    return None


def setup(app):
    app.connect("autodoc-process-signature", _init_signature)
    return {"parallel_read_safe": True}
