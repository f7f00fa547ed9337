"""The explorer's page: one current image on the left, the tools that read and change it on the right.

Every tool has a builder here that makes and wires its own components. The
current image lives in `Current`: its controls (seed, ψ, class, the latent it
starts from, the direction sliders) are the inputs of `/render`, and every tool
that changes the picture sets them, then asks `Current` to show the result.
Handlers raise ValueError for bad input; `user_errors` turns that into a
`gr.Error` — one place, one log line, no traceback.
"""

import functools
import inspect
import sys

import gradio as gr

from explorer import pictures
from explorer.handlers import FRAMES, PSI_RANGE, Explorer, shown_frames
from gan_core import latent as latents

LIVE = {"trigger_mode": "always_last", "show_progress": "hidden", "preprocess": False}
PRIVATE = {"api_visibility": "private", "show_progress": "hidden"}
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
    "A heeled boot, darker (d3)": "seed=12&class=Ankle+boot&d3=2",
    "A typical dress (ψ 0.6)": "seed=21&class=Dress&psi=0.6",
}


def user_errors(fn):
    """`fn` for the UI and the API: a ValueError becomes a `gr.Error` the user sees, logged as one line."""

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as error:
            print(f"app.py: refused {fn.__name__}: {error}", file=sys.stderr, flush=True)
            raise gr.Error(str(error), print_exception=False) from None

    return checked


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


class Current:
    """The current image and its controls, in the left panel, shared by every tool."""

    def __init__(self, explorer: Explorer):
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
                    info=f"Each seed is one latent: {explorer.generator.latent_dim} random numbers.",
                    elem_id="seed",
                    scale=3,
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
        self.render = user_errors(with_direction_parameters(explorer.render, len(explorer.directions)))
        self.base = gr.Textbox(visible=False)  # the latent the view starts from, when it is not a seed's
        self.query = gr.Textbox(visible=False)
        self.settle = gr.Button("refresh", elem_id="settle")
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
        self.followers: list[tuple] = []  # (handler, inputs or None for the controls, outputs), run once settled

    @property
    def controls(self) -> list:
        """What `/render` reads, in its order; what a tool sets to change the current image."""
        return [self.seed, self.psi, self.class_name, self.base, *self.sliders]

    @property
    def outputs(self) -> list:
        return [self.image, self.caption, self.latent, self.query]

    def show(self, event):
        """After `event`, render the current image (and, once settled, everything that depends on it)."""
        rendered = event.then(
            self.render,
            self.controls,
            self.outputs,
            **PRIVATE,
            api_name="show_current",
            preprocess=False,
            trigger_mode="always_last",
        )
        rendered.then(None, js=SETTLE_JS)
        return rendered

    def wire(self):
        ex = self.explorer
        render = self.render
        gr.on(
            [slider.input for slider in self.sliders] + [self.psi.input],
            render,
            self.controls,
            self.outputs,
            api_name="render",
            **LIVE,
        ).then(None, js=SETTLE_JS)
        gr.on([self.class_name.input], render, self.controls, self.outputs, **LIVE, api_visibility="private").then(
            None, js=SETTLE_JS
        )
        from_seed = user_errors(
            lambda seed, psi, name, _base, *strengths: ("", *ex.render(seed, psi, name, "", *strengths))
        )
        gr.on(
            [self.seed.input, self.seed.submit],
            from_seed,
            self.controls,
            [self.base, *self.outputs],
            **LIVE,
            api_visibility="private",
        ).then(None, js=SETTLE_JS)
        self.show(
            self.random.click(ex.random_seed, None, self.seed, api_name="random_seed").then(
                lambda: "", None, self.base, **PRIVATE
            )
        )
        self.query.change(None, self.query, self.share, js=SHARE_JS)
        for handler, inputs, outputs in self.followers:
            if inputs is None:  # a handler of the current view: its API takes the sliders by name
                handler = with_direction_parameters(handler, len(self.sliders))
                visibility = {"api_name": handler.__name__}
            else:
                visibility = {"api_visibility": "private"}
            self.settle.click(user_errors(handler), inputs or self.controls, outputs, **LIVE, **visibility)
        self.settle.click(
            lambda text, caption: ex.files.json(text, pictures.slug(caption)) if text else None,
            [self.latent, self.caption],
            self.download,
            **PRIVATE,
        )
        use_latent = user_errors(self.open_latent)
        self.show(self.open_pasted.click(use_latent, self.latent, self.controls, **PRIVATE))
        self.show(self.upload.upload(user_errors(self.open_file), self.upload, self.controls, **PRIVATE))

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
pictures from real ones,
and each improves against the other. Every picture here is the generator's. **Pick a seed or click any picture**
to make it current (left), then change its class, **steer** it along the directions the generator is most sensitive
to, **blend** two pictures, or do **arithmetic** with them. The share link reopens exactly what you see."""
    )
    gr.Markdown(f"⚠️ **{explorer.warning}**", visible=explorer.warning is not None, elem_id="model-warning")


def examples_row(explorer: Explorer, current: Current):
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
            opened = button.click(
                lambda q=query: explorer.view_controls(explorer.open_link(q)), None, current.controls, **PRIVATE
            )
            current.show(opened)


def classes_tool(explorer: Explorer, current: Current):
    """The current latent in every class; click one to switch; a morph from this class into another."""
    names = explorer.class_names
    with gr.Tab("Classes", id="classes", visible=explorer.conditional):
        gr.Markdown(
            "The same latent drawn as every class: the label changes *what*, the latent keeps *how*. "
            "Click a class to make it current."
        )
        gallery = gr.Gallery(
            label="The current latent in every class",
            columns=5,
            allow_preview=False,
            elem_classes=GALLERY_CLASSES,
            elem_id="class-grid",
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=220):
                gr.Markdown(
                    "**Morph** the current image into another class: the latent stays, the label's "
                    "embedding slides from one class to the other."
                )
                target = gr.Dropdown(names, value=names[-1] if names else None, label="Morph into", elem_id="morph-to")
                frames = gr.Slider(*FRAMES, 32, step=1, label="Frames")
            animation = gr.Image(
                label="Morph (GIF)",
                type="filepath",
                interactive=False,
                elem_classes="pixelated",
                buttons=["download"],
                scale=3,
                height=260,
                elem_id="morph-gif",
            )
    current.followers.append((explorer.classes, None, gallery))
    morph = user_errors(explorer.class_morph)
    current.followers.append((morph, [current.latent, target, frames], animation))

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
    with gr.Tab("Samples", id="samples"):
        with gr.Row():
            start = gr.Number(0, label="First seed", precision=0, minimum=0, maximum=latents.MAX_SEED, scale=2)
            previous_page = gr.Button("◀ Previous", scale=1, min_width=80)
            next_page = gr.Button("Next ▶", scale=1, min_width=80)
            every_class = gr.Checkbox(
                False, label="Every class", visible=explorer.conditional, scale=1, info="Seed i in class i mod classes"
            )
        gallery = gr.Gallery(
            label="Click a sample to make it current",
            columns=4,
            allow_preview=False,
            elem_classes=GALLERY_CLASSES,
            elem_id="sample-grid",
        )
        count = gr.Number(SAMPLES_PER_PAGE, visible=False)

    def samples(first_seed, count, psi, class_name, every_class):
        """A gallery of `count` seeds from `first_seed`, in `class_name` (or, with `every_class`, seed i in
        class i mod classes)."""
        return explorer.samples(first_seed, count, psi, None if every_class else class_name)

    inputs = [start, count, current.psi, current.class_name, every_class]
    page = lambda step: lambda first: max(0, min(latents.MAX_SEED, int(first or 0) + step))  # noqa: E731
    previous_page.click(page(-SAMPLES_PER_PAGE), start, start, **PRIVATE)
    next_page.click(page(SAMPLES_PER_PAGE), start, start, **PRIVATE)
    triggers = [start.change, every_class.input, current.psi.change, current.class_name.change]
    gr.on(triggers, user_errors(samples), inputs, gallery, **LIVE, api_name="samples")

    def pick(first, name, mixed, evt: gr.SelectData):
        seed = int(first) + evt.index
        label = explorer._label(None if mixed else name, seed)
        return seed, "", None if label is None else explorer.class_names[label]

    current.show(
        gallery.select(
            user_errors(pick),
            [start, current.class_name, every_class],
            [current.seed, current.base, current.class_name],
            **PRIVATE,
        )
    )
    return gallery, inputs, samples


def directions_tool(explorer: Explorer, current: Current):
    """SeFa directions: a slider each, with a preview strip of the current image along it."""
    with gr.Tab("Directions", id="directions"):
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
                preview = gr.Image(
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
            previews.append(preview)
    current.followers.append((explorer.previews, None, previews))
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
    with gr.Tab("Interpolate", id="interpolate"):
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
            gallery = gr.Gallery(
                label="Frames: click one to make it current",
                columns=4,
                allow_preview=False,
                elem_classes=GALLERY_CLASSES,
                elem_id="interpolation-frames",
                scale=3,
            )
            animation = gr.Image(
                label="Animation (GIF)",
                type="filepath",
                interactive=False,
                elem_classes="pixelated",
                buttons=["download"],
                elem_id="interpolation-gif",
                height=260,
                scale=2,
            )
    inputs = [a, b, frames, mode, current.class_name]
    interpolate = user_errors(explorer.interpolate)
    run.click(interpolate, inputs, [gallery, animation], api_name="interpolate", preprocess=False)
    for handed in (handed_a, handed_b):
        handed.then(interpolate, inputs, [gallery, animation], **PRIVATE, preprocess=False)

    def pick(spec_a, spec_b, count, path, name, evt: gr.SelectData):
        count = int(count)
        t = shown_frames(count)[evt.index] / (count - 1)
        latent_json, class_name = explorer.interpolation_frame(spec_a, spec_b, path, name, t)
        return [gr.skip(), 1.0, class_name, latent_json] + [0.0] * len(current.sliders)

    picked = gallery.select(user_errors(pick), [a, b, frames, mode, current.class_name], current.controls, **PRIVATE)
    current.show(picked)
    return inputs, interpolate, gallery, animation


def arithmetic_tool(explorer: Explorer, current: Current):
    """A − B + C on latents, the result put back on the shell and made current."""
    with gr.Tab("Arithmetic", id="arithmetic"):
        gr.Markdown(
            "Latents add up: **A − B + C** takes from C what A has and B has not. Averaging a few seeds "
            "per operand (3, 8, 12) keeps what they share. The result is rescaled to the length typical "
            "latents have (√128), where the generator draws clean pictures, and becomes the current image."
        )
        operands = []
        with gr.Row():
            for name, value in (("A", "1"), ("B", "2"), ("C", "3")):
                operands.append(operand(name, value, "arithmetic", current)[0])
        run = gr.Button("A − B + C", variant="primary", elem_id="arithmetic")
        result_strip = gr.Gallery(
            label="A, B, C and A − B + C, which became the current image",
            columns=4,
            allow_preview=False,
            elem_classes=GALLERY_CLASSES,
            elem_id="arithmetic-result",
        )
        result = gr.Textbox(visible=False)
    computed = run.click(
        user_errors(explorer.arithmetic),
        [*operands, current.class_name],
        [result_strip, result],
        api_name="arithmetic",
        preprocess=False,
    )
    current.show(computed.success(user_errors(current.open_latent), result, current.controls, **PRIVATE))
    return [*operands, current.class_name], result_strip


def about_tool(explorer: Explorer):
    with gr.Tab("About", id="about"):
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
    return info


def build_demo(explorer: Explorer) -> gr.Blocks:
    with gr.Blocks(title="GAN latent explorer", delete_cache=(1800, 3600)) as demo:
        header(explorer)
        with gr.Row(equal_height=False):
            current = Current(explorer)
            with gr.Column(scale=7, min_width=300):
                examples_row(explorer, current)
                with gr.Tabs(selected="classes" if explorer.conditional else "samples"):
                    classes_tool(explorer, current)
                    samples_gallery, samples_inputs, samples = samples_tool(explorer, current)
                    directions_tool(explorer, current)
                    interpolate_inputs, interpolate, frames_gallery, animation = interpolate_tool(explorer, current)
                    arithmetic_inputs, arithmetic_strip = arithmetic_tool(explorer, current)
                    info = about_tool(explorer)
        current.wire()
        api_only_input, api_only_image = gr.Textbox(visible=False), gr.Image(visible=False, type="filepath")
        api_only_input.submit(
            user_errors(explorer.render_latent),
            api_only_input,
            api_only_image,
            api_name="render_latent",
            preprocess=False,
        )

        def open_link(query: str) -> dict:
            """The view a share link's query opens: seed, psi, class, base latent JSON (or "") and strengths."""
            return dict(
                zip(
                    ["seed", "psi", "class", "base", "strengths"],
                    _grouped(explorer.view_controls(explorer.open_link(query))),
                    strict=True,
                )
            )

        gr.api(user_errors(open_link), api_name="open_link")

        def interpolation_frame(a: str, b: str, mode: str, class_name: str | None, t: float) -> tuple[str, str | None]:
            """The latent JSON and class of the frame t ∈ [0, 1] of the way from A to B."""
            return explorer.interpolation_frame(a, b, mode, class_name, t)

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
        opened.then(user_errors(samples), samples_inputs, samples_gallery, **PRIVATE, preprocess=False)
        opened.then(
            user_errors(interpolate), interpolate_inputs, [frames_gallery, animation], **PRIVATE, preprocess=False
        )
        operands_only = user_errors(lambda a, b, c, name: explorer.arithmetic(a, b, c, name)[0])
        opened.then(operands_only, arithmetic_inputs, arithmetic_strip, **PRIVATE, preprocess=False)
        demo.load(explorer.model_info, None, info, api_name="model_info")
    return demo


def _grouped(values: list) -> list:
    """Control values [seed, psi, class, base, s1, …, sK] as [seed, psi, class, base, [s1, …, sK]]."""
    return [*values[:4], list(values[4:])]


LAUNCH_OPTIONS = {"css": CSS, "max_file_size": "1mb"}
