"""The explorer's page: one current image on the left, the tools that read and change it on the right.

Every tool has a builder here that makes and wires its own components. The
current image lives in `Current`: its controls (seed, ψ, class, the latent it
starts from, the direction sliders) are the inputs of `/render`, and every tool
that changes the picture sets them, then asks `Current` to show the result.
What depends on the picture and costs more (direction previews, the class grid,
the morph) follows once the controls are still, and only for the tab in view.
Handlers raise ValueError for bad input (`explorer.checks`); `user_errors` turns that,
and any other exception an input causes, into a `gr.Error` — one log line, no
traceback. The page is a `CheckedBlocks`, which applies `user_errors` to every
function registered in it, endpoints added later included, and refuses a request
with the wrong number of values the same way.
"""

import contextlib
import dataclasses
import functools
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from explorer import pictures
from explorer.handlers import FRAMES, PSI_RANGE, Explorer
from explorer.inside import DEFAULT_NEIGHBOURS, NEIGHBOURS, Inside
from gan_core import latent as latents

REPO = Path(__file__).resolve().parents[1]
ERROR_CHARS = 120  # an unforeseen error's own message is cut to this length
LIVE = {"trigger_mode": "always_last", "show_progress": "hidden", "preprocess": False}
PRIVATE = {"api_visibility": "private", "show_progress": "hidden"}
IN_ORDER = {"concurrency_id": "current-picture", "concurrency_limit": 1}  # renders finish in the order asked
SAMPLES_PER_PAGE = 16
GALLERY_CLASSES = ["pixelated", "fit-gallery"]
DATASET_NAMES = {"fashion-mnist": "Fashion-MNIST clothes and shoes", "mnist": "MNIST handwritten digits"}
CSS = """
#current img, .pixelated img { image-rendering: pixelated; }
@media (min-width: 721px) { #current-panel { position: sticky; top: 0; align-self: flex-start; z-index: 5; } }
#settle { display: none; }
.fit-gallery .grid-wrap.fixed-height { height: auto !important; max-height: none !important; min-height: 0; }
#caption { text-align: center; font-weight: 600; min-height: 1.5em; }
.strip img { object-fit: contain; }
@media (max-width: 720px) {
  #current { max-height: 260px; }
  #current img { max-height: 240px; }
  .fit-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(84px, 1fr)) !important; }
}
"""
# After a picture arrives, refresh what depends on it (direction previews, the class grid) once the
# controls have been still for a moment: a drag gets live pictures without the slower extras piling up.
SETTLE_JS = """() => { clearTimeout(window.ganSettle);
  window.ganSettle = setTimeout(() => document.querySelector('#settle')?.click(), 250); }"""
SHARE_JS = """(query) => { const url = new URL(window.location.href); url.search = query;
  window.history.replaceState(null, '', url); return url.toString(); }"""
# Curated starting points, as share-link queries; those that do not fit the model shown are left out.
EXAMPLES = {
    "A sneaker": "seed=7&class=Sneaker",
    "A handbag": "seed=6&class=Bag",
    "A heeled boot, darker (d3)": "seed=12&class=Ankle+boot&d3=-3",
    "A typical dress (ψ 0.6)": "seed=21&class=Dress&psi=0.6",
}


def result_picture(label: str, elem_id: str | None = None, height: int = 260, **options) -> gr.Image:
    """A picture a tool draws (not an input): enlarged without blur, downloadable."""
    return gr.Image(label=label, type="filepath", interactive=False, elem_classes="pixelated", buttons=["download"],
                    height=height, elem_id=elem_id, **options)  # fmt: skip


def tiles(label: str, elem_id: str, columns: int = 4, **options) -> gr.Gallery:
    """A gallery of pictures a tool draws, each shown whole at its own size, clickable where the tool says so."""
    return gr.Gallery(label=label, columns=columns, allow_preview=False, elem_classes=GALLERY_CLASSES,
                      elem_id=elem_id, **options)  # fmt: skip


def refused(name: str, message: str, detail: str = "") -> gr.Error:
    """A user error: one line in the server's log (`detail` only there), a `gr.Error` without a traceback."""
    line = f"app.py: refused {name}: {' '.join(message.split())}{detail}"
    print(line.encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr, flush=True)  # lone surrogates
    return gr.Error(message, print_exception=False)


def cut(text: str, chars: int = ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def user_errors(fn, name: str | None = None):
    """`fn` for the UI and the API: whatever an input makes it raise becomes a `gr.Error` the user sees and one
    line in the log, without a traceback. A ValueError is a check's refusal (`explorer.checks`) and says what was
    wrong; any other exception (an OverflowError, TypeError, RecursionError, … that no check foresaw) is refused
    too, with its type and the line of ours it came from in the log, so that it can be given a check of its own.
    `CheckedBlocks` applies this to every function of the page."""
    if getattr(fn, "user_errors", False):
        return fn
    if any(test(inspect.unwrap(fn)) for test in (inspect.iscoroutinefunction, inspect.isgeneratorfunction)):
        raise TypeError(f"user_errors guards plain functions, not coroutines or generators: {fn!r}.")
    name = name or getattr(fn, "__name__", "handler")

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as error:
            raise refused(name, str(error)) from None
        except Exception as error:  # noqa: BLE001 - every input-made failure is a user error
            message = f"The app could not handle this request ({type(error).__name__}: {cut(str(error))})."
            raise refused(name, message, f" [unforeseen, at {where(error)}]") from None

    checked.user_errors = True
    return checked


def where(error: BaseException) -> str:
    """The innermost line of this project's code in `error`'s traceback ("explorer/checks.py:72")."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if frame.filename.startswith(str(REPO)) and ".venv" not in frame.filename]
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    return f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path.name}:{frame.lineno}"


def endpoint_name(block_fn) -> str:
    return block_fn.api_name if isinstance(block_fn.api_name, str) else block_fn.name or "handler"


class CheckedBlocks(gr.Blocks):
    """`gr.Blocks` in which every request is checked the same way, endpoints added later included: each function
    registered in it is wrapped in `user_errors` when a `with` block on it closes, and what Gradio refuses before
    a function runs is one clean error and one log line as well: too few values (or, for a named API endpoint,
    too many: they would be ignored), or a file the caller may not read."""

    def __exit__(self, exc_type=None, *args):
        result = super().__exit__(exc_type, *args)
        if exc_type is None:
            for block_fn in self.fns.values():
                if block_fn.fn is not None:
                    block_fn.fn = user_errors(block_fn.fn, endpoint_name(block_fn))
        return result

    def validate_inputs(self, block_fn, inputs):
        """Gradio's message for too few values lists the components' reprs, memory addresses and all."""
        wanted, name = len(block_fn.inputs), endpoint_name(block_fn)
        public = isinstance(block_fn.api_name, str) and block_fn.api_visibility == "public"
        if len(inputs) < wanted or (public and len(inputs) > wanted):
            try:
                parameters = list(inspect.signature(block_fn.fn).parameters) if block_fn.fn else []
            except (TypeError, ValueError):
                parameters = []
            listed = f" ({cut(', '.join(parameters), 80)})" if len(parameters) == wanted and parameters else ""
            raise refused(name, f"{name} takes {wanted} value{'s' * (wanted != 1)}{listed}, got {len(inputs)}.")

    async def preprocess_data(self, block_fn, *args, **kwargs):
        try:
            return await super().preprocess_data(block_fn, *args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - e.g. InvalidPathError: a path the caller did not upload
            raise refused(endpoint_name(block_fn), cut(str(error)), f" [{type(error).__name__}]") from None


def while_typing(fn, outputs: int, optional: tuple[int, ...] = (2, 3)):
    """`fn` for a live UI event: while a box is empty (being typed into), change nothing instead of
    refusing it; the API endpoints still refuse an empty value. Arguments at `optional` may be empty
    (by default a view's class and base latent)."""

    @functools.wraps(fn)
    def complete(*args):
        if any(value is None or value == "" for i, value in enumerate(args) if i not in optional):
            return unchanged(outputs)
        return fn(*args)

    return complete


def unchanged(outputs: int):
    """What a handler returns to leave its `outputs` as they are."""
    return gr.skip() if outputs == 1 else [gr.skip()] * outputs


def with_direction_parameters(fn, count: int):
    """`fn(seed, psi, class_name, base, *strengths)` with its strengths named d1 … dK, for the API's docs."""

    @functools.wraps(fn)
    def named(*args):
        return fn(*args)

    view = ["seed", "psi", "class_name", "base"] + [f"d{i + 1}" for i in range(count)]
    named.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in view]
    )
    return named


def settle_after(event):
    """Once `event` succeeds, the followers of the tab in view refresh (a moment later, see SETTLE_JS)."""
    event.success(None, js=SETTLE_JS)


def remembering(fn):
    """`fn`, also returning the arguments it was called with, to keep in a `gr.State`: a click on the
    gallery it drew then picks exactly what was shown, whatever the controls say by then."""

    def draw(*arguments):
        result = fn(*arguments)
        return (*(result if isinstance(result, tuple) else (result,)), arguments)

    return draw


def picking(pick, what: str):
    """A gallery's select handler: `pick(arguments, index)` with the arguments `remembering` kept."""

    def picked(arguments, evt: gr.SelectData):
        if arguments is None:
            raise ValueError(f"The {what} are still being drawn; click again in a moment.")
        return pick(arguments, evt.index)

    return user_errors(picked)


def api_endpoint(fn, inputs, outputs, api_name: str, parent=None):
    """A named API endpoint with the page's components as its types, triggered by the API only (its trigger,
    a hidden button, goes into `parent` when given: tabs hold only tabs)."""
    with parent or contextlib.nullcontext():
        gr.Button(visible=False).click(user_errors(fn), inputs, outputs, api_name=api_name, preprocess=False)


@dataclasses.dataclass
class Follower:
    """A handler refreshed once the picture settles, when its tab is in view."""

    handler: Callable
    inputs: list | None  # None: the current picture's controls
    outputs: list
    tab: str


class Current:
    """The current image and its controls, in the left panel, shared by every tool."""

    def __init__(self, explorer: Explorer, first_tab: str):
        self.explorer = explorer
        names = explorer.class_names
        with gr.Column(scale=4, min_width=300, elem_id="current-panel"):
            self.image = gr.Image(
                label="Current image",
                type="filepath",
                height=pictures.CURRENT_PIXELS + 16,
                buttons=["download", "fullscreen"],
                interactive=False,
                elem_id="current",
            )
            self.caption = gr.Markdown(elem_id="caption")
            with gr.Row():
                self.seed = gr.Number(
                    0,
                    label="Seed",
                    precision=0,
                    minimum=0,
                    maximum=latents.MAX_SEED,
                    scale=3,
                    info=f"Each seed is one latent: {explorer.generator.latent_dim} random numbers.",
                    elem_id="seed",
                )
                self.random = gr.Button("Random seed", scale=1, min_width=90, elem_id="random-seed")
            self.class_name = gr.Dropdown(
                names, value=names[0] if names else None, label="Class", visible=explorer.conditional, elem_id="class"
            )
            self.psi = gr.Slider(
                *PSI_RANGE,
                1.0,
                step=0.05,
                label="Truncation ψ",
                elem_id="psi",
                info="Below 1 pulls the latent towards the average: cleaner, less varied.",
            )
            self.share = gr.Textbox(
                label="Share link: reopens exactly this picture",
                buttons=["copy"],
                max_lines=2,
                interactive=False,
                elem_id="share",
            )
            with gr.Accordion("Latent as JSON: copy, download, upload", open=False):
                self.latent = gr.Textbox(
                    label="Current latent", lines=3, max_lines=6, buttons=["copy"], elem_id="latent"
                )
                with gr.Row():
                    self.open_pasted = gr.Button("Open pasted latent", size="sm")
                    self.upload = gr.UploadButton("Upload .json", file_types=[".json"], size="sm")
                    self.download = gr.DownloadButton("Download .json", size="sm", elem_id="download-latent")
        self.sliders = [  # shown by the Directions tool
            gr.Slider(
                low,
                high,
                0.0,
                step=0.1,
                label=f"Direction {i + 1}",
                info=f"eigenvalue {eigenvalue:.3g}",
                elem_id=f"direction-{i + 1}",
                min_width=200,
                scale=2,
                render=False,
            )
            for i, ((low, high), eigenvalue) in enumerate(zip(explorer.limits, explorer.eigenvalues, strict=True))
        ]
        self.base = gr.Textbox(visible=False)  # the latent the view starts from, when it is not a seed's
        self.query = gr.Textbox(visible=False)
        self.tab = gr.State(first_tab)
        self.settle = gr.Button("refresh", elem_id="settle")
        self.followers: list[Follower] = []
        self.live = user_errors(while_typing(explorer.render, len(self.outputs)))
        render = with_direction_parameters(explorer.render, len(self.sliders))
        api_endpoint(render, self.controls, self.outputs, "render")

    @property
    def controls(self) -> list:
        """What `/render` reads, in its order; what a tool sets to change the current image."""
        return [self.seed, self.psi, self.class_name, self.base, *self.sliders]

    @property
    def outputs(self) -> list:
        return [self.image, self.caption, self.latent, self.query, self.download]

    def show(self, event):
        """After `event` succeeds, render the current image; once settled, what depends on it follows."""
        settle_after(
            event.success(
                self.live,
                self.controls,
                self.outputs,
                **PRIVATE,
                **IN_ORDER,
                preprocess=False,
                trigger_mode="always_last",
            )
        )

    def follow(self, handler, outputs, tab: str, inputs: list | None = None):
        """Refresh `outputs` with `handler` once the picture settles, when `tab` is in view."""
        self.followers.append(Follower(handler, inputs, outputs if isinstance(outputs, list) else [outputs], tab))

    def on_tab(self, tab_component, tab: str):
        """Remember that `tab` is in view, and bring its followers up to date."""
        settle_after(tab_component.select(lambda: tab, None, self.tab, **PRIVATE))

    def wire(self):
        ex = self.explorer
        triggers = [slider.input for slider in self.sliders] + [self.psi.input, self.class_name.input]
        settle_after(
            gr.on(triggers, self.live, self.controls, self.outputs, **LIVE, **IN_ORDER, api_visibility="private")
        )
        settle_after(
            gr.on(
                [self.seed.input, self.seed.submit],
                user_errors(while_typing(self.from_seed, 1 + len(self.outputs))),
                self.controls,
                [self.base, *self.outputs],
                **LIVE,
                **IN_ORDER,
                api_visibility="private",
            )
        )
        self.show(
            self.random.click(ex.random_seed, None, self.seed, api_name="random_seed").success(
                lambda: "", None, self.base, **PRIVATE
            )
        )
        self.query.change(None, self.query, self.share, js=SHARE_JS)
        for follower in self.followers:
            optional = (2, 3) if follower.inputs is None else ()  # a follower never refuses what is not there yet
            handler = while_typing(follower.handler, len(follower.outputs), optional)
            self.settle.click(
                self.when_in_view(user_errors(handler), follower),
                [self.tab, *(follower.inputs or self.controls)],
                follower.outputs,
                **LIVE,
                api_visibility="private",
            )
        self.show(self.open_pasted.click(user_errors(self.open_latent), self.latent, self.controls, **PRIVATE))
        self.show(self.upload.upload(user_errors(self.open_file), self.upload, self.controls, **PRIVATE))

    @staticmethod
    def when_in_view(handler, follower: Follower):
        """`handler`, run only while the follower's tab is in view (the tab comes first)."""

        def in_view(tab, *args):
            return handler(*args) if tab == follower.tab else unchanged(len(follower.outputs))

        return in_view

    def from_seed(self, seed, psi, class_name, _base, *strengths):
        """A seed typed in: the view starts from that seed's latent again."""
        return ("", *self.explorer.render(seed, psi, class_name, "", *strengths))

    def open_latent(self, text) -> list:
        """The control values that make a latent JSON current, keeping the seed box as it is."""
        return [gr.skip(), *self.explorer.latent_controls(text)[1:]]

    def open_file(self, path) -> list:
        return self.open_latent(self.explorer.read_latent_file(path))


def header(explorer: Explorer):
    dataset = explorer.generator.metadata.get("dataset")
    data = DATASET_NAMES.get(dataset, f"pictures like those of its training set ({dataset or 'unnamed'})")
    gr.Markdown(
        f"""# GAN latent explorer
A **generative adversarial network** (GAN) learned to draw {data} by playing a game: a *generator* turns
{explorer.generator.latent_dim} random numbers (a **latent**) into a picture, a *discriminator* tries to tell its
pictures from real ones, and each improves against the other. Every picture here is the generator's. **Pick a seed
or click any picture** to make it current (left), then change its class, **steer** it along the directions the
generator is most sensitive to, **blend** two pictures, or do **arithmetic** with them. The share link reopens
exactly what you see."""
    )
    gr.Markdown(f"⚠️ **{explorer.warning}**", visible=explorer.warning is not None, elem_id="model-warning")


def examples_row(explorer: Explorer, current: Current):
    """Curated starting points (share-link queries) that fit the model shown."""
    fitting = {}
    for label, query in EXAMPLES.items():
        try:
            explorer.open_link(query)
        except ValueError:
            continue
        fitting[label] = query
    if not fitting:
        return
    with gr.Row(elem_id="examples"):
        gr.Markdown("**Try:**", container=False)
        for label, query in fitting.items():
            button = gr.Button(label, size="sm", variant="secondary")
            current.show(
                button.click(
                    lambda q=query: explorer.view_controls(explorer.open_link(q)), None, current.controls, **PRIVATE
                )
            )


def classes_tool(explorer: Explorer, current: Current):
    """The current latent in every class; click one to switch; a morph from this class into another."""
    names = explorer.class_names
    with gr.Tab("Classes", id="classes", visible=explorer.conditional) as tab:
        gr.Markdown(
            "The same latent drawn as every class: the label changes *what*, the latent keeps *how*. "
            "Click a class to make it current."
        )
        gallery = tiles("The current latent in every class", "class-grid", columns=5)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=220):
                gr.Markdown(
                    "**Morph** the current image into another class: the latent stays, the label's "
                    "embedding slides from one class to the other."
                )
                target = gr.Dropdown(names, value=names[-1] if names else None, label="Morph into", elem_id="morph-to")
                frames = gr.Slider(*FRAMES, 32, step=1, label="Frames")
            animation = result_picture("Morph (GIF)", "morph-gif", scale=3)
    if not explorer.conditional:
        return
    current.on_tab(tab, "classes")
    morph = user_errors(explorer.class_morph)
    current.follow(explorer.classes, gallery, "classes")
    current.follow(explorer.class_morph, animation, "classes", inputs=[current.latent, target, frames])
    api_endpoint(
        with_direction_parameters(explorer.classes, len(current.sliders)), current.controls, gallery, "classes", tab
    )

    def pick(evt: gr.SelectData):
        return names[evt.index]

    current.show(gallery.select(pick, None, current.class_name, **PRIVATE))
    gr.on(
        [target.input, frames.release],
        morph,
        [current.latent, target, frames],
        animation,
        **LIVE,
        api_name="class_morph",
    )


def samples_tool(explorer: Explorer, current: Current):
    """A page of seeds in the current class (or in every class); click one to make it current."""
    with gr.Tab("Samples", id="samples") as tab:
        with gr.Row():
            start = gr.Number(0, label="First seed", precision=0, minimum=0, maximum=latents.MAX_SEED, scale=2)
            previous_page = gr.Button("◀ Previous", scale=1, min_width=80)
            next_page = gr.Button("Next ▶", scale=1, min_width=80)
            every_class = gr.Checkbox(
                False, label="Every class", visible=explorer.conditional, scale=1, info="Seed i in class i mod classes"
            )
        gallery = tiles("Click a sample to make it current", "sample-grid")
        count = gr.Number(SAMPLES_PER_PAGE, visible=False)
        drawn = gr.State()  # the arguments that drew the page, so a click picks what it shows
    current.on_tab(tab, "samples")
    inputs = [start, count, current.psi, current.class_name, every_class]
    api_endpoint(explorer.samples, inputs, gallery, "samples", tab)

    draw = remembering(explorer.samples)

    def turn(first, step):
        return min(max(0, int(first or 0) + step), latents.MAX_SEED)

    previous_page.click(lambda first: turn(first, -SAMPLES_PER_PAGE), start, start, **PRIVATE)
    next_page.click(lambda first: turn(first, SAMPLES_PER_PAGE), start, start, **PRIVATE)
    triggers = [start.change, every_class.input, current.psi.change, current.class_name.change]
    gr.on(
        triggers,
        user_errors(while_typing(draw, 2, optional=(3,))),
        inputs,
        [gallery, drawn],
        **LIVE,
        api_visibility="private",
    )

    def pick(arguments, index):
        first, number, _psi, class_name, mixed = arguments
        seed, class_name = explorer.sample_pick(first, number, class_name, mixed, index)
        return seed, "", class_name

    picked = gallery.select(
        picking(pick, "samples"), drawn, [current.seed, current.base, current.class_name], **PRIVATE
    )
    current.show(picked)
    return draw, inputs, [gallery, drawn]


def directions_tool(explorer: Explorer, current: Current):
    """SeFa directions: a slider each, with a preview strip of the current image along it."""
    with gr.Tab("Directions", id="directions") as tab:
        gr.Markdown(
            "**Directions** (SeFa, closed-form factorisation): the directions in latent space that the generator's "
            "first layer stretches most, found from its weights alone. Each strip shows the current image moved "
            "along one direction, from the slider's left end to its right end; drag a slider to move it."
            + ("" if explorer.limits_measured else " Slider ranges are ±3: not measured for this model.")
        )
        reset = gr.Button("Reset all directions", size="sm")
        previews = []
        for i, slider in enumerate(current.sliders):
            with gr.Row(equal_height=True):
                slider.render()
                previews.append(
                    gr.Image(
                        show_label=False,
                        type="filepath",
                        interactive=False,
                        height=64,
                        min_width=240,
                        scale=3,
                        container=False,
                        elem_classes="pixelated strip",
                        elem_id=f"preview-{i + 1}",
                        buttons=[],
                    )
                )
    current.on_tab(tab, "directions")
    current.follow(explorer.previews, previews, "directions")
    api_endpoint(
        with_direction_parameters(explorer.previews, len(current.sliders)), current.controls, previews, "previews", tab
    )
    current.show(reset.click(lambda: [0.0] * len(current.sliders), None, current.sliders, **PRIVATE))


def operand(name: str, value: str, tool: str, current: Current):
    """A box for an operand (a seed, seeds to average, or a latent JSON) and a button that puts the current
    latent in it; returns the box and the hand-off event. The box's label says what a handed latent is."""
    with gr.Column(min_width=200):
        box = gr.Textbox(
            value,
            label=name,
            max_lines=1,
            elem_id=f"{tool}-{name.lower()}",
            placeholder="a seed (7), seeds to average (3, 8, 12), or a latent JSON",
        )
        button = gr.Button(f"Current image → {name}", size="sm", elem_id=f"{tool}-use-{name.lower()}")
    box.focus(lambda: gr.update(label=name), None, box, **PRIVATE)
    handed = button.click(
        lambda text, caption: gr.update(value=text, label=f"{name}: the current image, {caption}"),
        [current.latent, current.caption],
        box,
        **PRIVATE,
    )
    return box, handed


def interpolate_tool(explorer: Explorer, current: Current):
    """From A to B; between classes, the class morphs too. Click a frame to make it current."""
    with gr.Tab("Interpolate", id="interpolate") as tab:
        gr.Markdown(
            "A walk from A to B through latent space; between two classes the class morphs too. "
            "**slerp** follows the sphere where latents live, so every frame looks typical; **lerp** takes "
            "the straight line through the middle, where pictures fade towards an average."
        )
        with gr.Row():
            a, handed_a = operand("A", "1", "interpolate", current)
            b, handed_b = operand("B", "2", "interpolate", current)
        with gr.Row():
            frames = gr.Slider(*FRAMES, 48, step=1, label="Frames in the animation", scale=2)
            mode = gr.Radio(list(latents.INTERPOLATIONS), value="slerp", label="Path", scale=1, min_width=160)
            run = gr.Button("Interpolate", variant="primary", elem_id="interpolate", scale=1)
        with gr.Row(equal_height=False):
            gallery = tiles("Frames: click one to make it current", "interpolation-frames", scale=3)
            animation = result_picture("Animation (GIF)", "interpolation-gif", scale=2)
        drawn = gr.State()  # the arguments that drew the frames, so a click picks what it shows
    current.on_tab(tab, "interpolate")
    inputs = [a, b, frames, mode, current.class_name]
    api_endpoint(explorer.interpolate, inputs, [gallery, animation], "interpolate", tab)

    draw = remembering(explorer.interpolate)
    for event in (run.click, handed_a.success, handed_b.success):
        event(user_errors(draw), inputs, [gallery, animation, drawn], **PRIVATE, preprocess=False)

    def pick(arguments, index):
        latent_json, _ = explorer.interpolation_tile(*arguments, index)
        return explorer.latent_controls(latent_json)[1:]

    current.show(gallery.select(picking(pick, "frames"), drawn, current.controls[1:], **PRIVATE))
    return draw, inputs, [gallery, animation, drawn]


def arithmetic_tool(explorer: Explorer, current: Current):
    """A − B + C on latents, the result put back on the shell and made current."""
    root = f"√{explorer.generator.latent_dim}"
    with gr.Tab("Arithmetic", id="arithmetic") as tab:
        gr.Markdown(
            "Latents add up: **A − B + C** takes from C what A has and B has not. Averaging a few seeds per operand "
            f"(3, 8, 12) keeps what they share. The result is rescaled to the length typical latents have ({root}), "
            "where the generator draws clean pictures, and becomes the current image."
        )
        operands = []
        with gr.Row():
            for name, value in (("A", "1"), ("B", "2"), ("C", "3")):
                operands.append(operand(name, value, "arithmetic", current)[0])
        run = gr.Button("A − B + C", variant="primary", elem_id="arithmetic")
        result_tiles = tiles("A, B, C and A − B + C, which became the current image", "arithmetic-result")
        result = gr.Textbox(visible=False)
    current.on_tab(tab, "arithmetic")
    inputs = [*operands, current.class_name]
    computed = run.click(
        user_errors(explorer.arithmetic), inputs, [result_tiles, result], api_name="arithmetic", preprocess=False
    )
    current.show(computed.success(user_errors(current.open_latent), result, current.controls, **PRIVATE))

    def operands_only(a, b, c, class_name):
        return explorer.arithmetic(a, b, c, class_name)[0]

    return user_errors(operands_only), inputs, result_tiles


SELECT_BRUSH = """() => {
    const choose = (tries) => {
        const brush = document.querySelector("#invert-draw button[aria-label=Brush]");
        if (brush && !brush.classList.contains("highlight")) brush.click();
        else if (!brush && tries > 0) setTimeout(() => choose(tries - 1), 100);
    };
    choose(50);
}"""


def invert_tool(inside: Inside, current: Current):
    """Your own picture (an upload, a drawing, a test image) found in latent space, then made current."""
    explorer = inside.explorer
    with gr.Tab("Your picture", id="invert") as tab:
        gr.Markdown(
            "**Put your own picture in.** The model searches its latent space for the picture it can draw that is "
            "closest to yours (GAN *inversion*: gradient descent on the latent, from several starts"
            + (", in the classes your picture most likely shows" if explorer.conditional else "")
            + "). The result becomes the current image: steer it, morph it, share it. Pictures are turned grey, "
            "fitted into the square and, if dark on light, negated: the model draws light garments on black."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=220), gr.Tabs():
                with gr.Tab("Upload"):
                    upload = gr.Image(
                        label="A picture (PNG, JPEG, GIF, WebP, BMP; up to 1 MB)",
                        type="filepath",
                        sources=["upload", "clipboard"],
                        height=240,
                        elem_id="invert-upload",
                    )
                    from_upload = gr.Button("Find it in the model", variant="primary", elem_id="invert-run")
                with gr.Tab("Draw") as draw_tab:
                    drawing = gr.Sketchpad(
                        label="Draw a garment",
                        canvas_size=(280, 280),
                        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                        layers=False,
                        height=300,
                        elem_id="invert-draw",
                    )
                    from_drawing = gr.Button("Find it in the model", variant="primary", elem_id="invert-draw-run")
                with gr.Tab("Test image", visible=inside.data_reason is None):
                    index = gr.Number(0, label="Test image number (0 … 9999)", precision=0, minimum=0,
                                      maximum=9999, elem_id="invert-test-index")  # fmt: skip
                    from_test = gr.Button("Use this test image", elem_id="invert-test")
            with gr.Column(scale=3, min_width=260):
                comparison = result_picture(
                    "Yours (as the model sees it) · the model's closest · the difference", "invert-result"
                )
                caption = gr.Markdown(elem_id="invert-caption")
        found = gr.Textbox(visible=False)
    current.on_tab(tab, "invert")

    def invert(picture, progress=gr.Progress()):
        """A picture file → the comparison, its caption, and the latent JSON of the reconstruction."""
        progress(0, desc="Searching the latent space")
        return inside.invert(picture, progress=lambda fraction: progress(fraction, desc="Searching the latent space"))

    def invert_drawing(value, progress=gr.Progress()):
        composite = value.get("composite") if isinstance(value, dict) else None
        return invert(composite, progress)

    # Gradio's sketchpad opens with no tool chosen ("select the draw tool to start"): choose the brush for the visitor.
    draw_tab.select(None, js=SELECT_BRUSH)
    outputs = [comparison, caption, found]
    for event in (
        from_upload.click(invert, upload, outputs, api_name="invert", concurrency_limit=1),
        from_drawing.click(invert_drawing, drawing, outputs, **PRIVATE, concurrency_limit=1),
    ):
        current.show(event.success(user_errors(current.open_latent), found, current.controls, **PRIVATE))
    from_test.click(inside.test_image, index, upload, api_name="test_image", preprocess=False).success(
        invert, upload, outputs, **PRIVATE, concurrency_limit=1
    ).success(user_errors(current.open_latent), found, current.controls, **PRIVATE)


def neighbours_tool(inside: Inside, current: Current):
    """The training images nearest to the current one, and the data-copying test's verdict."""
    verdict = inside.explorer.generator.metadata.get("memorisation")
    with gr.Tab("Copied?", id="neighbours") as tab:
        gr.Markdown(
            "**Is the model just copying its training set?** The training images that look most like the current "
            "image, nearest first, with their distance in the feature space of a Fashion-MNIST classifier (what "
            "the picture shows, not pixel by pixel). A copy would be at distance near 0."
            + (f" {_copying_line(verdict)}" if verdict else "")
        )
        if inside.data_reason:
            gr.Markdown(f"Not available here: {inside.data_reason}.", elem_id="neighbours-unavailable")
        k = gr.Slider(*NEIGHBOURS, DEFAULT_NEIGHBOURS, step=1, label="Training images shown",
                      visible=inside.data_reason is None)  # fmt: skip
        gallery = tiles(
            "The current image, then its nearest training images",
            "neighbours-grid",
            columns=5,
            visible=inside.data_reason is None,
        )
    current.on_tab(tab, "neighbours")
    k.release(user_errors(inside.neighbours), [current.latent, k], gallery, api_name="neighbours", preprocess=False)
    if not inside.data_reason:
        current.follow(inside.neighbours, gallery, "neighbours", inputs=[current.latent, k])


def _copying_line(verdict: dict) -> str:
    model, floor = verdict["model_vs_held_out"], verdict["floor"]
    judged = "flags copying" if model["copying"] else "finds no copying"
    return (f"Over {verdict['n']:,} samples the data-copying test (Meehan et al., 2020) {judged}: "
            f"C_T = {model['c_t']} (held-out real images: {floor['c_t']}; copying is below "
            f"{verdict['threshold']}).")  # fmt: skip


def timeline_tool(inside: Inside):
    """How the model learned: its curves and the sample grid of every epoch (or why there are none)."""
    history = inside.timeline
    shown = history is not None
    last = max(history.epochs) if shown else 1
    with gr.Tab("Training", id="timeline"):
        gr.Markdown(
            "**How it learned.** The same 64 latents drawn after every epoch of training (one column per class), "
            "and the curves: the two networks' losses, the discriminator's average output on real (D(x)) and "
            "generated (D(G(z))) pictures, and the Fréchet distance to real pictures (lower is better)."
            if shown
            else f"**No training timeline for this model.** {inside.timeline_reason}",
            elem_id="timeline-about",
        )
        # A slider needs two ends: a one-epoch history gets one it cannot move.
        epoch = gr.Slider(1, max(last, 2), last, step=1, label="Epoch", elem_id="timeline-epoch", visible=shown,
                          interactive=last > 1)  # fmt: skip
        with gr.Row(equal_height=False, visible=shown):
            grid = result_picture("Samples after this epoch", "timeline-grid", height=420, scale=3)
            with gr.Column(scale=2, min_width=240):
                caption = gr.Markdown(elem_id="timeline-caption")
                curves = inside.timeline_curves()
                for panel in dict.fromkeys(curves["panel"]):
                    gr.LinePlot(curves[curves["panel"] == panel], x="epoch", y="value", color="series",
                                title=panel, height=180, x_title="epoch", y_title=None)  # fmt: skip
                animate = gr.Button("Play every epoch as an animation", size="sm")
                animation = result_picture("Training (GIF)", height=300, visible=False)
    epoch.release(inside.timeline_grid, epoch, [grid, caption], api_name="timeline", preprocess=False)
    epoch.input(user_errors(inside.timeline_grid), epoch, [grid, caption], **LIVE, api_visibility="private")
    animate.click(lambda: gr.update(value=inside.timeline_animation(), visible=True), None, animation, **PRIVATE)
    return (inside.timeline_grid, [epoch], [grid, caption]) if shown else None


def about_tool(explorer: Explorer, current: Current):
    with gr.Tab("About", id="about") as tab:
        gr.Markdown(explorer.about_markdown())
        samples = explorer.generator.path / "samples.png"
        gr.Image(
            str(samples) if samples.exists() else None,
            label="Samples from training",
            type="filepath",
            interactive=False,
            elem_classes="pixelated",
        )
        info = gr.JSON(label="gan.json", visible=False)
    current.on_tab(tab, "about")
    return info


def build_demo(explorer: Explorer, inside: Inside | None = None) -> gr.Blocks:
    inside = inside or Inside(explorer)
    first_tab = "classes" if explorer.conditional else "samples"
    with CheckedBlocks(title="GAN latent explorer", delete_cache=CACHE_CLEANING) as demo:
        header(explorer)
        with gr.Row(equal_height=False):
            current = Current(explorer, first_tab)
            with gr.Column(scale=7, min_width=300):
                examples_row(explorer, current)
                with gr.Tabs(selected=first_tab):
                    classes_tool(explorer, current)
                    drawn_at_load = [samples_tool(explorer, current)]
                    directions_tool(explorer, current)
                    drawn_at_load.append(interpolate_tool(explorer, current))
                    drawn_at_load.append(arithmetic_tool(explorer, current))
                    invert_tool(inside, current)
                    neighbours_tool(inside, current)
                    timeline = timeline_tool(inside)
                    if timeline:
                        drawn_at_load.append(timeline)
                    info = about_tool(explorer, current)
        current.wire()
        api_endpoint(
            explorer.render_latent, gr.Textbox(visible=False), gr.Image(visible=False, type="filepath"), "render_latent"
        )

        def open_link(query: str) -> dict:
            """The view a share link's query opens: seed, psi, class, base latent JSON (or "") and strengths."""
            values = explorer.view_controls(explorer.open_link(query))
            return dict(zip(["seed", "psi", "class", "base", "strengths"], [*values[:4], values[4:]], strict=True))

        def interpolation_frame(a: str, b: str, mode: str, class_name: str | None, t: float) -> tuple[str, str | None]:
            """The latent JSON and class of the frame t ∈ [0, 1] of the way from A to B."""
            return explorer.interpolation_frame(a, b, mode, class_name, t)

        gr.api(user_errors(open_link), api_name="open_link")
        gr.api(user_errors(interpolation_frame), api_name="interpolation_frame")

        def open_page(request: gr.Request):
            """The view of the page's link; a bad link shows a warning and the default view."""
            try:
                view = explorer.open_link(dict(request.query_params))
            except ValueError as error:
                gr.Warning(f"{error} Showing the default picture instead.")
                view = explorer.open_link({})
            return explorer.view_controls(view)

        opened = demo.load(open_page, None, current.controls, **PRIVATE)
        current.show(opened)
        for draw, inputs, outputs in drawn_at_load:  # every tab has something to show before its first click
            opened.success(draw, inputs, outputs, **PRIVATE, preprocess=False)
        demo.load(explorer.model_info, None, info, api_name="model_info")
    return demo


# Every 5 minutes Gradio deletes the files it cached (our outputs, uploads) more than 30 minutes ago, and all of
# them when the server stops: its cache holds at most the last 35 minutes of distinct outputs.
CACHE_CLEANING = (300, 1800)
LAUNCH_OPTIONS = {"css": CSS, "max_file_size": "1mb"}  # an upload of more is refused (HTTP 413)
