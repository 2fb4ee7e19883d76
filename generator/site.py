"""The site around the pages: sidebar by source module, edit links, status badges, API-name search.

Loaded by ``generator.sphinx_ext``. Contracts:

- Navigation. The sidebar of a page is built from the toctrees Sphinx recorded: the root's entries,
  with each entry on the path to the current page expanded one level. A branch with more than
  ``NAV_WINDOW`` children shows only the children around the current page and a link to the
  branch's own page (a module index lists all of them). So no page carries the whole list of
  mappings, and a page's HTML does not grow with the number of mappings. Furo asks for the full
  toctree of every page, which made writing quadratic; we answer that request with this tree.
- Edit links. A page generated from a mapping carries ``edit_path`` in its front matter (the YAML
  file, relative to the repository); "Edit this page" links there. Hand-written pages link to their
  own source; other generated pages (overview, module indexes, coverage) have no edit link. No page
  offers its generated MyST as "source" (``html_show_sourcelink`` is off in ``conf.py``). The path
  is percent-encoded (``edit_link``): a file name cannot add markup to the link.
- Badges. ``{status-badge}`value``` shows a status by its title, ``{failure-badge}`CPU``` marks a
  page or row whose example failed on that device; both are ``span.status-badge`` with one class
  per kind, coloured by ``docs/_static/mappings.css``.
- Languages. Each language is its own build (``languages``): ``<site>/<language>/<same path>``. Every
  page's sidebar links the same page in the other languages (``sidebar/languages.html`` in
  ``docs/_templates``) and its head names them (``hreflang``). ``{untranslated}`en``` marks mapping
  text shown in another language because the page's language has none.
- Code. Blocks are highlighted without the spans that draw a token as plain text (``highlighting``);
  code in a table cell may wrap after an underscore, a dot or an equals sign.
- Search. ``_static/api-names.js`` lists every mapping page with its two API names (front matter
  ``apis``); ``docs/_static/api-search.js`` puts the pages whose API names match a query above
  Sphinx's full-text results on the search page.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote

from docutils import nodes
from sphinx.application import Sphinx

from .highlighting import quiet_highlighting
from .i18n import LANGUAGE_NAMES, LANGUAGE_TITLES, LANGUAGES, _, normalize, using
from .schema import Status

NAV_WINDOW = 15
FAILURE_CLASS = "status-fails"


# -- navigation -------------------------------------------------------------------------------

def _parents(app: Sphinx) -> dict[str, str]:
    """Each document's first including document, computed once per build."""
    cached = getattr(app, "_mapping_nav_parents", None)
    if cached is None:
        cached = {}
        for parent, children in app.env.toctree_includes.items():
            for child in children:
                cached.setdefault(child, parent)
        app._mapping_nav_parents = cached  # type: ignore[attr-defined]
    return cached


def _path_to(app: Sphinx, pagename: str) -> list[str]:
    """Documents from the root to ``pagename`` (only the root if the page is in no toctree)."""
    parents, path, seen = _parents(app), [pagename], {pagename}
    while path[-1] in parents and parents[path[-1]] not in seen:
        seen.add(parents[path[-1]])
        path.append(parents[path[-1]])
    path.reverse()
    return path if path[0] == app.config.root_doc else [app.config.root_doc]


def nav_label(app: Sphinx, docname: str) -> str:
    """A document's sidebar label; dotted API names may wrap after a dot, never inside a name."""
    metadata = app.env.metadata.get(docname, {})
    title = metadata.get("nav_label") or (app.env.titles[docname].astext() if docname in app.env.titles else docname)
    return html.escape(str(title)).replace(".", ".<wbr>")


def _window(children: list[str], current: str | None) -> tuple[list[str], int, int]:
    """The children to show and how many are left out before and after them."""
    if len(children) <= NAV_WINDOW:
        return children, 0, 0
    middle = children.index(current) if current in children else 0
    start = max(0, min(middle - NAV_WINDOW // 2, len(children) - NAV_WINDOW))
    return children[start:start + NAV_WINDOW], start, len(children) - start - NAV_WINDOW


def _nav_list(app: Sphinx, pagename: str, parent: str, path: list[str], level: int, toggles: list[int]) -> str:
    children = app.env.toctree_includes.get(parent, [])
    on_path = path[level] if level < len(path) else None
    shown, before, after = _window(children, on_path)
    uri = app.builder.get_relative_uri
    items = []
    if before:
        items.append(_more_item(uri(pagename, parent), level))
    for child in shown:
        current = child == on_path
        inner = _nav_list(app, pagename, child, path, level + 1, toggles) if current else ""
        classes = [f"toctree-l{level}"] + (["current"] if current else []) + (["current-page"] if child == pagename else [])
        label = nav_label(app, child)
        toggle = ""
        if inner:  # the theme's expand toggle, open: this entry is on the way to the current page
            classes.append("has-children")
            toggles[0] += 1
            name = f"toctree-checkbox-{toggles[0]}"
            aria = html.escape(_("Toggle navigation of {name}").format(name=_plain(label)))
            toggle = (f'<input checked="" class="toctree-checkbox" id="{name}" name="{name}" role="switch" '
                      f'type="checkbox" aria-label="{aria}"/>'
                      f'<label for="{name}"><span class="icon"><svg><use href="#svg-arrow-right"></use></svg></span></label>')
        items.append(f'<li class="{" ".join(classes)}"><a class="reference internal" href="{uri(pagename, child)}">'
                     f"{label}</a>{toggle}{inner}</li>")
    if after:
        items.append(_more_item(uri(pagename, parent), level))
    if not items:
        return ""
    opening = '<ul class="current">' if on_path else "<ul>"
    return opening + "".join(items) + "</ul>"


def _plain(label: str) -> str:
    return html.unescape(label.replace("<wbr>", ""))


def _more_item(href: str, level: int) -> str:
    # No count in the label: adding a page must not change the sidebar of every page beside it.
    label = html.escape(_("more …"))
    return (f'<li class="toctree-l{level} nav-more"><a class="reference internal" href="{href}">'
            f"{label}</a></li>")


def navigation_html(app: Sphinx, pagename: str) -> str:
    """This page's sidebar tree, in the markup Furo gives its own (expand toggles included)."""
    root = app.config.root_doc
    with using(app.config.language):
        return _nav_list(app, pagename, root, _path_to(app, pagename), 1, [0])


def install_navigation(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Answer the theme's request for the site toctree with the bounded sidebar of this page.

    Furo re-parses whatever ``toctree()`` returns to add its toggles (23 ms a page); our tree has
    them already, so Furo gets an empty tree and ``furo_sidebar`` sets ours after its handler ran."""
    if "toctree" in context:
        tree = navigation_html(app, pagename)
        context["_mapping_navigation"] = tree
        context["toctree"] = (lambda **_options: "") if app.config.html_theme == "furo" else (lambda **_options: tree)


def furo_sidebar(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if app.config.html_theme == "furo" and "_mapping_navigation" in context:
        context["furo_navigation_tree"] = context["_mapping_navigation"]


def reset_navigation(app: Sphinx, env) -> None:
    app._mapping_nav_parents = None  # type: ignore[attr-defined]


def remember_toctrees(app: Sphinx, env, docnames: list[str]) -> None:
    app._mapping_toctrees_before = {parent: list(children)  # type: ignore[attr-defined]
                                    for parent, children in env.toctree_includes.items()}


def stale_sidebars(app: Sphinx, env) -> list[str]:
    """Pages whose sidebar changed because a toctree they show changed (a mapping added or removed).

    Sphinx rewrites the pages it re-read; a sidebar also shows its ancestors' lists, so when a list
    changes, the pages below it (only those near the change, in a windowed list) are written too."""
    before = getattr(app, "_mapping_toctrees_before", None)
    if before is None:
        return []
    stale: set[str] = set()
    for parent, children in env.toctree_includes.items():
        old = before.get(parent, [])
        if old == children:
            continue
        kept, removed = set(old), set(old) - set(children)
        changed = [index for index, child in enumerate(children) if child not in kept]
        changed += [min(old.index(child), len(children)) for child in removed]
        for index, child in enumerate(children):
            if len(children) <= NAV_WINDOW or any(abs(index - at) <= NAV_WINDOW for at in changed):
                stale.add(child)
                stale.update(_descendants(env, child))
    return sorted(stale & env.found_docs)


def _descendants(env, docname: str) -> set[str]:
    found, pending = set(), list(env.toctree_includes.get(docname, []))
    while pending:
        child = pending.pop()
        if child not in found:
            found.add(child)
            pending.extend(env.toctree_includes.get(child, []))
    return found


# -- page context: edit link, table of contents ------------------------------------------------

def page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    metadata = context.get("meta") or {}
    repository = app.config.mapping_repository.rstrip("/")
    edit = None
    if repository and "edit_path" in metadata:
        edit = metadata["edit_path"]
    elif repository and context.get("page_source_suffix") and not pagename.startswith(_generated_prefix(app)):
        edit = f"{pagename}{context['page_source_suffix']}"
    context["theme_source_repository"] = ""
    branch = app.config.mapping_repository_branch
    context["theme_source_edit_link"] = edit_link(repository, branch, edit) if edit else ""
    context["theme_source_view_link"] = ""
    if context.get("toc"):
        context["toc"] = _breakable_names(context["toc"])


def edit_link(repository: str, branch: str, path: str) -> str:
    """Where "Edit this page" goes. The theme writes it into an ``href`` as it is, so the branch and
    the path (a mapping's file name is the contributor's) are percent-encoded: no quote, angle
    bracket, space or ampersand of theirs can end the attribute or add one."""
    return f"{repository}/edit/{quote(branch, safe='/')}/{quote(path, safe='/')}"


def _generated_prefix(app: Sphinx) -> str:
    return Path(app.config.mapping_output).as_posix().rstrip("/") + "/"


_LINK_TEXT = re.compile(r"(<a [^>]*>)([^<]*)(</a>)")


def _breakable_names(toc: str) -> str:
    """Let long dotted names in the page's table of contents wrap after a dot."""
    return _LINK_TEXT.sub(lambda m: m.group(1) + m.group(2).replace(".", ".<wbr>") + m.group(3), toc)


_NAME_JOINT = re.compile(r"(?<=[_.=])(?=\w)")
LONG_CODE_WORD = 16  # characters: a shorter word of code fits any column


def wrap_points(code: str) -> list[str]:
    """``code`` cut where it may wrap: after an underscore, a dot or an equals sign inside a word
    longer than ``LONG_CODE_WORD`` (``track_running_stats=False``), never inside a word part."""
    pieces = [""]
    for token in re.split(r"(\s+)", code):
        parts = _NAME_JOINT.split(token) if len(token) > LONG_CODE_WORD else [token]
        pieces[-1] += parts[0]
        pieces.extend(parts[1:])
    return pieces


def breakable_code_in_tables(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """doctree-resolved: long code in a table cell may wrap (``wrap_points``, a ``<wbr>`` at each),
    so a long name does not make a table wider than the page."""
    for entry in doctree.findall(nodes.entry):
        for literal in list(entry.findall(nodes.literal)):
            if len(literal.children) != 1 or not isinstance(literal.children[0], nodes.Text):
                continue  # already cut (a table inside a table), or holds markup
            pieces = wrap_points(literal.astext())
            if len(pieces) < 2:
                continue
            children: list[nodes.Node] = [nodes.Text(pieces[0])]
            for piece in pieces[1:]:
                children += [nodes.raw("", "<wbr>", format="html"), nodes.Text(piece)]
            literal.clear()
            literal.extend(children)


# -- badges ---------------------------------------------------------------------------------

def _language_of(inliner) -> str:
    env = getattr(inliner.document.settings, "env", None)
    return normalize(env.config.language if env is not None else None)


def status_badge_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    try:
        status = Status(text.strip())
    except ValueError:
        message = inliner.reporter.error(f"unknown status {text!r}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    with using(_language_of(inliner)):
        title = status.title
    return [nodes.inline(title, title, classes=["status-badge", f"status-{status.value}"])], []


def failure_badge_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    with using(_language_of(inliner)):
        label = _("fails on {device}").format(device=text.strip())
    return [nodes.inline(label, label, classes=["status-badge", FAILURE_CLASS])], []


def untranslated_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{untranslated}`en```: the text before it is shown in that language, for want of a translation."""
    shown = normalize(text.strip())
    with using(_language_of(inliner)):
        label = _("untranslated")
        title = _("No translation yet: this text is shown in {language}.").format(language=_(LANGUAGE_TITLES[shown]))
    markup = (f'<span class="untranslated" title="{html.escape(title)}" aria-label="{html.escape(title)}">'
              f"{html.escape(label)}</span>")
    return [nodes.raw(rawtext, markup, format="html")], []


# -- languages ------------------------------------------------------------------------------

def language_links(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """``mapping_languages`` for the switcher: this page in each language of the site, whose builds
    sit side by side (``<site>/<language>/``); and ``hreflang`` links in the page's head."""
    languages = [normalize(language) for language in app.config.mapping_languages]
    if len(languages) < 2:
        return
    current = normalize(app.config.language)
    uri = app.builder.get_target_uri(pagename)
    up = "../" * (uri.count("/") + 1)
    links = [{"code": code, "lang": code.replace("_", "-"), "name": LANGUAGE_NAMES.get(code, code),
              "url": f"{up}{code}/{uri}", "current": code == current} for code in languages]
    context["mapping_languages"] = links
    context["metatags"] = context.get("metatags", "") + "".join(
        f'\n<link rel="alternate" hreflang="{link["lang"]}" href="{html.escape(link["url"])}">' for link in links)


# -- API-name search index ------------------------------------------------------------------

def write_api_index(app: Sphinx, exception: Exception | None) -> None:
    """``_static/api-names.js``: [title, url from the site root, API names] per mapping page."""
    if exception is not None or app.builder.format != "html":
        return
    entries = []
    for docname in sorted(app.env.found_docs):
        apis = app.env.metadata.get(docname, {}).get("apis")
        if apis:
            title = app.env.titles[docname].astext() if docname in app.env.titles else docname
            entries.append([title, app.builder.get_target_uri(docname), str(apis).split()])
    target = Path(app.outdir) / "_static" / "api-names.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("window.MAPPING_API_NAMES = " + json.dumps(entries, separators=(",", ":")) + ";\n",
                      encoding="utf-8")


def add_search_script(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Only the search page loads the API-name index."""
    if pagename == "search" and "script_files" in context:
        context["script_files"] = [*context["script_files"], "_static/api-names.js", "_static/api-search.js"]


def quiet_segmenter(app: Sphinx, config) -> None:
    """jieba (Chinese search's word splitter) logs at DEBUG level to stderr when it loads: keep the
    build's output to Sphinx's own."""
    if normalize(config.language).startswith("zh"):
        try:
            import jieba
        except ImportError:
            return
        jieba.setLogLevel(logging.WARNING)


def chinese_search_language():
    """Sphinx 9.0's Chinese search ends ``language_data.js`` with ``window.Stemmer = ChineseStemmer``,
    a class it never ships (it stems Latin words with the English stemmer), so the search page stops
    with "ChineseStemmer is not defined" (sphinx-doc/sphinx#14229, fixed upstream by #14416). The
    same search language, naming the stemmer it ships; None where Sphinx is not affected."""
    from sphinx.search.zh import SearchChinese

    if SearchChinese.js_stemmer_rawcode != "english-stemmer.js" or SearchChinese.language_name == "English":
        return None

    class ChineseSearch(SearchChinese):
        language_name = "English"  # only names the JS stemmer class: EnglishStemmer

    return ChineseSearch


def setup_site(app: Sphinx) -> None:
    app.connect("config-inited", quiet_segmenter)
    app.connect("builder-inited", quiet_highlighting)
    fixed = chinese_search_language()
    if fixed is not None:
        app.add_search_language(fixed)
    app.add_config_value("mapping_repository", "", "html", str)
    app.add_config_value("mapping_repository_branch", "main", "html", str)
    app.add_css_file("mappings.css")
    app.add_js_file("mappings.js", defer="defer")
    app.add_role("status-badge", status_badge_role)
    app.add_role("failure-badge", failure_badge_role)
    app.add_role("untranslated", untranslated_role)
    app.add_config_value("mapping_languages", list(LANGUAGES), "html", list)
    app.connect("html-page-context", language_links)
    app.connect("env-updated", reset_navigation)
    app.connect("env-before-read-docs", remember_toctrees)
    app.connect("env-get-updated", stale_sidebars)
    app.connect("html-page-context", install_navigation, priority=400)  # before the theme's handler
    app.connect("html-page-context", furo_sidebar, priority=600)  # after it
    app.connect("html-page-context", page_context)
    app.connect("html-page-context", add_search_script)
    app.connect("build-finished", write_api_index)
    app.connect("doctree-resolved", breakable_code_in_tables)
