"""``workbench parse``: the responses, items and requests of a parse, as a tree by depth.

Each response is a node under the request that led to it; its items and the
requests its callback returned are its children.  The tree grows as the crawl
runs (the screen pulls the :class:`~workbench.core.inspection.parse.ParseTree` twice a
second and adds what is new); Enter opens a node's flow, ``p`` the selector
playground on its response.
"""

from __future__ import annotations

import pprint
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.inspection.parse import ParseNode, ParseRequest, ParseTree, request_state
from workbench.ui import format as fmt

MAX_ITEMS = 200  # per node, in the tree (the flow's Produced tab has them all)
MAX_REQUESTS = 500

# ("node", id) | ("item", node id, i) | ("request", node id, i) | ("more", node id) | ("root",)
Data = tuple[Any, ...]


def _status_style(status: int) -> str:
    return "green" if 200 <= status < 300 else "yellow" if status < 400 else "bold red"


def node_label(node: ParseNode) -> Text:
    label = Text.assemble(
        (f"d{node.depth} ", "dim"),
        (f"{node.status} ", _status_style(node.status)),
        clean_line(node.method, 10),
        " ",
        clean_line(node.url, 400),
    )
    if node.callback:
        label.append(f"  → {clean_line(node.callback, 80)}", style="cyan")
    if node.error:
        label.append(f"  {clean_line(node.error, 300)}", style="bold red")
    elif node.done:
        label.append(
            f"  {fmt.count(len(node.items), 'item')}, {fmt.count(len(node.requests), 'request')}",
            style="dim",
        )
    else:
        label.append("  (callback running)", style="dim italic")
    return label


def item_label(node: ParseNode, index: int) -> Text:
    fields = ", ".join(f"{k}={v!r}" for k, v in node.items[index].items())
    return Text.assemble(
        ("item ", "bold green"),
        (clean_line(node.item_classes[index], 60) + " ", "green"),
        clean_line(fields, 300),
    )


def request_label(tree: ParseTree, entry: ParseRequest) -> Text:
    state = request_state(tree, entry)
    failed = bool(entry.error)
    label = Text.assemble(
        ("request ", "bold red" if failed else "dim"),
        clean_line(entry.method, 10),
        " ",
        clean_line(entry.url, 400),
        (f"  → {clean_line(entry.callback, 80)}", "cyan"),
    )
    label.append(f"  ({clean_line(state, 300)})", style="red" if failed else "dim italic")
    return label


class ParseScreen(Screen[None]):
    """The parse tree; Enter opens a node's flow, p the selector playground."""

    HELP_TITLE: ClassVar[str] = "Parse tree (workbench parse)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back to the panels"),
        Binding("p", "selectors", "Selectors", tooltip="Selector playground on the response"),
        Binding("v", "view", "View", tooltip="The whole item, request or response summary"),
        Binding("e", "expand_all", "Expand all", tooltip="Expand every node"),
    ]

    DEFAULT_CSS = """
    ParseScreen #parse-title { height: 1; padding: 0 1; text-style: bold; }
    ParseScreen #parse-box { border: round $primary; height: 1fr; padding: 0 1; }
    ParseScreen #parse-tree { height: 1fr; }
    """

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source
        self._version = -1
        self._node_of: dict[int, TreeNode[Data]] = {}  # parse node id -> its tree node
        self._filled: set[int] = set()  # nodes whose children are in the tree
        self._labels: dict[int, tuple[Any, ...]] = {}  # parse node id -> what its label shows
        self._requests: dict[tuple[int, int], TreeNode[Data]] = {}  # (node id, i) -> tree node
        self._states: dict[tuple[int, int], str] = {}

    def compose(self) -> Any:
        yield Static("", id="parse-title")
        with Vertical(id="parse-box"):
            tree: Tree[Data] = Tree(self._root_label(), data=("root",), id="parse-tree")
            tree.auto_expand = False  # Enter opens; space or a click on the arrow folds
            tree.root.expand()
            yield tree
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Tree).focus()
        self.update()
        self.set_interval(0.5, self.update)

    @property
    def parse_tree(self) -> ParseTree:  # not DOMNode.tree (Textual's DOM, for its log)
        return self.source.parse_tree()

    def _root_label(self) -> Text:
        tree = self.parse_tree
        label = Text.assemble(("d1 ", "dim"), "GET ", clean_line(tree.url, 400))
        if tree.root_error:
            why = clean_line(tree.root_error, 300)
            label.append(
                f"  ({why})" if tree.root_dropped else f"  failed: {why}", style="bold red"
            )
        elif tree.finished:
            label.append("  (no response)", style="bold red")
        else:
            label.append("  (waiting for the response)", style="dim italic")
        return label

    # -- keeping the tree up to date ---------------------------------------------

    def update(self) -> None:
        tree = self.parse_tree
        self._title(tree)
        if tree.version == self._version:
            return
        self._version = tree.version
        widget: Tree[Data] = self.query_one(Tree)
        if not tree.nodes:
            widget.root.set_label(self._root_label())
        for node in tree.nodes:
            self._sync_node(widget, tree, node)
        for key, tnode in self._requests.items():
            entry = tree.request_of(key)
            if entry is None or entry.child is not None:
                continue
            state = request_state(tree, entry)
            if self._states.get(key) != state:
                self._states[key] = state
                tnode.set_label(request_label(tree, entry))
                tnode.allow_expand = state == "waiting"  # no response will come under it

    def _sync_node(self, widget: Tree[Data], tree: ParseTree, node: ParseNode) -> None:
        tnode = self._node_of.get(node.id)
        if tnode is None:
            key = (node.parent, node.index)
            tnode = self._requests.get(key) if node.parent is not None else None  # type: ignore[arg-type]
            if tnode is None:
                tnode = widget.root if not self._node_of else widget.root.add("", expand=True)
            tnode.data = ("node", node.id)
            tnode.allow_expand = True  # a response: its items and requests go under it
            self._node_of[node.id] = tnode
        shown = (node.done, node.error, node.callback, len(node.items), len(node.requests))
        if self._labels.get(node.id) != shown:
            self._labels[node.id] = shown
            tnode.set_label(node_label(node))
        if node.done and node.id not in self._filled:
            self._filled.add(node.id)
            self._fill(tnode, tree, node)

    def _fill(self, tnode: TreeNode[Data], tree: ParseTree, node: ParseNode) -> None:
        for index in range(min(len(node.items), MAX_ITEMS)):
            tnode.add_leaf(item_label(node, index), data=("item", node.id, index))
        if len(node.items) > MAX_ITEMS:
            more = len(node.items) - MAX_ITEMS
            tnode.add_leaf(Text(f"… {more} more items (Enter: the flow's Produced tab)", "dim"),
                           data=("more", node.id))  # fmt: skip
        for index, entry in enumerate(node.requests[:MAX_REQUESTS]):
            key = (node.id, index)
            state = self._states[key] = request_state(tree, entry)
            label = request_label(tree, entry)
            if entry.followed:
                self._requests[key] = tnode.add(
                    label, data=("request", node.id, index), allow_expand=state == "waiting"
                )
            else:
                tnode.add_leaf(label, data=("request", node.id, index))
        if len(node.requests) > MAX_REQUESTS:
            more = len(node.requests) - MAX_REQUESTS
            tnode.add_leaf(Text(f"… {more} more requests (Enter: the flow's Produced tab)", "dim"),
                           data=("more", node.id))  # fmt: skip
        tnode.expand()

    def _title(self, tree: ParseTree) -> None:
        state = "done" if tree.finished else "running"
        title = Text(f" Parse to depth {tree.depth} ({state}): ")
        title.append(f"{fmt.count(len(tree.nodes), 'response')}, ")
        title.append(f"{fmt.count(tree.items, 'item')}, {fmt.count(tree.requests, 'request')}")
        if tree.errors:
            title.append(f", {fmt.count(tree.errors, 'error')}", style="bold red")
        hint = "   Enter: flow · p: selectors · v: view · Esc: panels"
        title.append(hint, style="dim")
        self.query_one("#parse-title", Static).update(title)

    # -- actions -----------------------------------------------------------------

    def _cursor(self) -> Data:
        cursor = self.query_one(Tree).cursor_node
        return cursor.data if cursor is not None and cursor.data else ("root",)

    def _target(self) -> tuple[ParseNode | None, Data]:
        """The parse node of the cursor (a request's: the node of its response)."""
        data = self._cursor()
        tree = self.parse_tree
        if data[0] == "request":
            entry = tree.request_of(data[1:])
            if entry is not None and entry.child is not None:
                return tree.node(entry.child), ("node", entry.child)
        if data[0] in ("node", "item", "more"):
            return tree.node(data[1]), data
        return None, data

    def _flow_of(self, node: ParseNode | None, data: Data) -> Any:
        if node is None:
            entry = self.parse_tree.request_of(data[1:]) if data[0] == "request" else None
            if entry is not None:
                why = request_state(self.parse_tree, entry)
                self.notify(f"No response for this request: {clean_line(why, 300)}.", markup=False)
            else:
                self.notify("No response yet.", severity="warning")
            return None
        flow = self.source.flow(node.flow_id) if node.flow_id is not None else None
        if flow is None:
            self.notify("This response's flow is no longer kept.", severity="warning")
        return flow

    def on_tree_node_selected(self, event: Tree.NodeSelected[Data]) -> None:
        event.stop()
        node, data = self._target()
        flow = self._flow_of(node, data)
        if flow is None:
            return
        from workbench.ui.screens.flow_detail import FlowDetailScreen

        tab = "produced" if data[0] in ("item", "more") else "request"
        self.app.push_screen(FlowDetailScreen(self.source, flow, tab=tab))

    def action_selectors(self) -> None:
        node, data = self._target()
        flow = self._flow_of(node, data)
        if flow is None:
            return
        from workbench.ui.screens.selectors import SelectorScreen

        self.app.push_screen(SelectorScreen(self.source, flow))

    def action_view(self) -> None:
        data = self._cursor()
        tree = self.parse_tree
        node = tree.node(data[1]) if len(data) > 1 else None
        from workbench.ui.screens.text_view import TextScreen

        if data[0] == "item" and node is not None and data[2] < len(node.items):
            title = f"{node.item_classes[data[2]]} from {node.url}"
            text = pprint.pformat(node.items[data[2]], width=100, sort_dicts=False)
        elif data[0] == "request" and node is not None:
            entry = node.requests[data[2]]
            title = f"Request {entry.method} {entry.url}"
            state = request_state(tree, entry)
            text = (f"{entry.method} {entry.url}\ncallback: {entry.callback}\n"
                    f"returned by: {node.callback} on {node.url}\nstate: {state}")  # fmt: skip
        elif data[0] in ("node", "more") and node is not None:
            title = f"Response {node.url}"
            text = (f"{node.status} {node.method} {node.url}\ndepth: {node.depth}\n"
                    f"callback: {node.callback}\nerror: {node.error or 'none'}\n"
                    f"items: {len(node.items)}\nrequests: {len(node.requests)}")  # fmt: skip
        else:
            title, text = f"GET {tree.url}", tree.root_error or "No response yet."
        self.app.push_screen(TextScreen(title, clean(text)))

    def action_expand_all(self) -> None:
        self.query_one(Tree).root.expand_all()

    def action_close(self) -> None:
        self.app.pop_screen()
