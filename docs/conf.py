"""Sphinx configuration of the sk_ulmfit documentation site.

Build (warnings are errors, as in CI):

    .venv/bin/python -m sphinx -W -b html docs docs/_build/html
"""

import sk_ulmfit

project = "sk_ulmfit"
author = "sk_ulmfit developers"
release = version = sk_ulmfit.__version__
extensions = ["myst_parser", "numpydoc", "sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.intersphinx"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
autosummary_generate = True
# scikit-learn's metadata-routing setters are generated on every estimator; their docs are scikit-learn's
autodoc_default_options = {"members": True, "inherited-members": False,
                           "exclude-members": "set_fit_request,set_score_request,set_predict_request,"
                                              "set_predict_proba_request,set_transform_request"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
html_theme = "pydata_sphinx_theme"
html_title = f"sk_ulmfit {version}"
# The guide's pages are short and code-heavy: no "On this page" column there, so examples
# fit the width without scrolling; the long reference pages keep it.
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2,
                      "secondary_sidebar_items": {page: ["page-toc"] for page in
                                                  ("api", "results", "evidence", "benchmarks", "design",
                                                   "pretraining")}}
# The reference pages stand alone (no section to navigate): no empty left column.
html_sidebars = {page: [] for page in ("index", "api", "results", "evidence", "benchmarks", "design")}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# No network at build time: intersphinx has no inventories to fetch, so it stays empty.
intersphinx_mapping = {}
# Docstrings inherited from scikit-learn (score) point into scikit-learn's own glossary.
suppress_warnings = ["myst.header", "ref.ref", "ref.term"]
