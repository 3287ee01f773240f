"""A drawing pad widget that shows live predictions of several classifiers."""

import html
import io
import logging

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas
from PIL import Image, ImageDraw

from helpers.drawing import EmptyDrawingError, MNIST_SIZE, to_mnist

log = logging.getLogger(__name__)

NO_PREDICTION = "–"
PREVIEW_SCALE = 4
INK_COLOUR = "white"
BACKGROUND_COLOUR = "black"
# Lets a finger draw on the canvas instead of scrolling the page.
PAD_CSS = "<style>.pad-canvas { touch-action: none; }</style>"


def default_classifiers():
    """Return the pretrained MLP and LeNet, the networks the workbook trains."""
    from helpers.classify import load_classifier

    return {"MLP": load_classifier("mlp"), "LeNet": load_classifier("lenet")}


def render_strokes(strokes, size, brush_width):
    """Return strokes drawn with a round brush as a (size, size) uint8 image.

    Each stroke is a list of (x, y) canvas points; ink is 255 on a 0 background.
    """
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = brush_width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=round(brush_width), joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(image)


def png_bytes(image, scale=PREVIEW_SCALE):
    """Return a 0-1 grey image as PNG bytes, enlarged with visible pixels."""
    pixels = Image.fromarray(np.round(image * 255).astype(np.uint8))
    enlarged = pixels.resize(
        (image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST
    )
    buffer = io.BytesIO()
    enlarged.save(buffer, format="png")
    return buffer.getvalue()


def bars_html(probabilities):
    """Return the ten class probabilities as an HTML bar chart, best in orange."""
    if probabilities is None:
        probabilities = np.zeros(10)
    best = int(np.argmax(probabilities)) if probabilities.any() else -1
    rows = [bar_row(digit, p, digit == best) for digit, p in enumerate(probabilities)]
    return '<div class="pad-bars">' + "".join(rows) + "</div>"


def bar_row(digit, probability, is_best):
    """Return one row of the bar chart: digit, bar, probability."""
    colour = "#e8743b" if is_best else "#4c78a8"
    return (
        '<div style="display:flex;align-items:center;height:15px;'
        'font:11px monospace">'
        f'<span style="width:12px">{digit}</span>'
        f'<span style="display:inline-block;height:10px;background:{colour};'
        f'width:{probability * 100:.0f}px"></span>'
        f'<span style="margin-left:4px">{probability:.2f}</span></div>'
    )


def css_name(name):
    """Return name as a lower-case word usable in a CSS class."""
    return "".join(c if c.isalnum() else "-" for c in name.lower())


class DrawingPad:
    """A canvas to draw a digit on, with what the classifiers see and predict.

    Ink is drawn as white strokes with a round brush on a black filled
    background, as in MNIST. The strokes live in ``strokes`` (a list of
    strokes, each a list of (x, y) points); the ink the networks see is
    rasterised from them in Python, so nothing is read back from the browser.
    When a stroke ends, every classifier's probabilities are updated.

    classifiers maps a display name to an object with ``predict_proba``;
    by default the workbook's pretrained MLP and LeNet. Display the pad
    with ``display(pad)`` or as a cell's last expression; ``pad.widget``
    is the ipywidgets box, to place it inside other widgets.
    """

    def __init__(self, classifiers=None, size=280, brush_width=20):
        if classifiers is None:
            classifiers = default_classifiers()
        self.classifiers = dict(classifiers)
        self.size = size
        self.brush_width = brush_width
        self.strokes = []
        self.drawing = False
        self.probabilities = {}
        self.canvas = self.make_canvas()
        self.preview = self.make_preview()
        self.labels = {name: self.make_label(name) for name in self.classifiers}
        self.bars = {name: widgets.HTML(bars_html(None)) for name in self.classifiers}
        self.widget = self.make_layout()

    def make_canvas(self):
        """Return the canvas, fixed in size, with its events wired to this pad."""
        pixels = f"{self.size}px"
        canvas = Canvas(
            width=self.size,
            height=self.size,
            layout=widgets.Layout(width=pixels, height=pixels, min_width=pixels),
        )
        canvas.add_class("pad-canvas")
        canvas.on_client_ready(self.redraw)
        canvas.on_mouse_down(self.on_mouse_down)
        canvas.on_mouse_move(self.on_mouse_move)
        canvas.on_mouse_up(self.on_mouse_up)
        canvas.on_mouse_out(self.on_mouse_up)
        canvas.on_touch_start(self.on_touch_start)
        canvas.on_touch_move(self.on_touch_move)
        canvas.on_touch_end(self.on_touch_end)
        canvas.on_touch_cancel(self.on_touch_end)
        return canvas

    def make_preview(self):
        """Return the image showing the 28x28 input the networks see."""
        pixels = f"{MNIST_SIZE * PREVIEW_SCALE}px"
        preview = widgets.Image(
            value=png_bytes(np.zeros((MNIST_SIZE, MNIST_SIZE))),
            format="png",
            layout=widgets.Layout(width=pixels, height=pixels),
        )
        preview.add_class("pad-preview")
        return preview

    def make_label(self, name):
        """Return the text element showing a classifier's predicted digit."""
        label = widgets.Label(NO_PREDICTION, style={"font_size": "24px"})
        label.add_class("pad-prediction")
        label.add_class(f"pad-prediction-{css_name(name)}")
        return label

    def make_layout(self):
        """Return the pad's box: canvas, network input, predictions, buttons."""
        clear_button = widgets.Button(description="Clear", icon="eraser")
        undo_button = widgets.Button(description="Undo", icon="undo")
        clear_button.on_click(lambda _: self.clear())
        undo_button.on_click(lambda _: self.undo())
        self.buttons = {"clear": clear_button, "undo": undo_button}
        seen = widgets.VBox(
            [widgets.HTML("<b>What the networks see</b>"), self.preview],
            layout=widgets.Layout(margin="0 16px"),
        )
        columns = [self.prediction_column(name) for name in self.classifiers]
        top = widgets.HBox([self.canvas, seen, *columns])
        controls = widgets.HBox([clear_button, undo_button])
        return widgets.VBox([widgets.HTML(PAD_CSS), top, controls])

    def prediction_column(self, name):
        """Return one classifier's name, predicted digit and probability bars."""
        title = widgets.HTML(f"<b>{html.escape(name)}</b>")
        return widgets.VBox(
            [title, self.labels[name], self.bars[name]],
            layout=widgets.Layout(width="150px"),
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # Events from the browser, also called directly by tests.

    def on_mouse_down(self, x, y):
        self.start_stroke(x, y)

    def on_mouse_move(self, x, y):
        if self.drawing:
            self.extend_stroke(x, y)

    def on_mouse_up(self, x, y):
        if self.drawing:
            self.end_stroke()

    def on_touch_start(self, touches):
        if touches:
            self.start_stroke(*touches[0])

    def on_touch_move(self, touches):
        if touches and self.drawing:
            self.extend_stroke(*touches[0])

    def on_touch_end(self, touches):
        if self.drawing:
            self.end_stroke()

    # Strokes

    def start_stroke(self, x, y):
        """Begin a new stroke at (x, y) and show its first dot."""
        self.drawing = True
        self.strokes.append([(x, y)])
        self.canvas.fill_circle(x, y, self.brush_width / 2)

    def extend_stroke(self, x, y):
        """Add (x, y) to the current stroke and draw the new segment."""
        stroke = self.strokes[-1]
        self.canvas.stroke_line(*stroke[-1], x, y)
        stroke.append((x, y))

    def end_stroke(self):
        """Finish the current stroke and update the predictions."""
        self.drawing = False
        self.update_predictions()

    def undo(self):
        """Remove the last stroke, then redraw and predict again."""
        self.drawing = False
        if self.strokes:
            self.strokes.pop()
        self.redraw()
        self.update_predictions()

    def clear(self):
        """Remove every stroke and reset the predictions."""
        self.drawing = False
        self.strokes.clear()
        self.redraw()
        self.update_predictions()

    # Rendering and predicting

    def set_brush(self):
        """Set the browser canvas's brush: white, round, brush_width wide."""
        self.canvas.fill_style = INK_COLOUR
        self.canvas.stroke_style = INK_COLOUR
        self.canvas.line_width = self.brush_width
        self.canvas.line_cap = "round"
        self.canvas.line_join = "round"

    def redraw(self):
        """Paint the background and every stroke; run when a browser connects."""
        with hold_canvas():
            self.canvas.fill_style = BACKGROUND_COLOUR
            self.canvas.fill_rect(0, 0, self.size, self.size)
            self.set_brush()
            for stroke in self.strokes:
                self.canvas.fill_circle(*stroke[0], self.brush_width / 2)
                self.canvas.stroke_lines(stroke)

    def ink(self):
        """Return the strokes as a (size, size) uint8 image, white ink on black."""
        return render_strokes(self.strokes, self.size, self.brush_width)

    def image(self):
        """Return the (28, 28) image the networks see; EmptyDrawingError if blank."""
        return to_mnist(self.ink())

    def predictions(self):
        """Return each classifier's 10 probabilities for the drawing, {} if blank."""
        return {name: p.copy() for name, p in self.probabilities.items()}

    def predicted_digits(self):
        """Return each classifier's predicted digit, {} if blank."""
        return {name: int(np.argmax(p)) for name, p in self.probabilities.items()}

    def update_predictions(self):
        """Frame the ink, ask every classifier, and show the results."""
        try:
            image = self.image()
        except EmptyDrawingError:
            image = None
        self.probabilities = self.classify(image)
        self.show(image)

    def classify(self, image):
        """Return each classifier's probabilities for image, {} for None."""
        if image is None:
            return {}
        return {
            name: np.asarray(classifier.predict_proba(image), dtype=float).reshape(10)
            for name, classifier in self.classifiers.items()
        }

    def show(self, image):
        """Update the network input, the predicted digits and the bars."""
        blank = np.zeros((MNIST_SIZE, MNIST_SIZE))
        self.preview.value = png_bytes(blank if image is None else image)
        for name in self.classifiers:
            probabilities = self.probabilities.get(name)
            self.bars[name].value = bars_html(probabilities)
            self.labels[name].value = (
                NO_PREDICTION
                if probabilities is None
                else str(np.argmax(probabilities))
            )
        log.debug("predictions %s", self.predicted_digits())
