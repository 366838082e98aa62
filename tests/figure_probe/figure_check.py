"""How a figure reads on the course site: every figure is shown at the page's width (PAGE_PX), so a
figure's text shrinks (or grows) with it. ``figure_defects`` lists what a student could not read there:
text smaller than MIN_PX, text cut off by the figure's edge (the site saves the figure as it is, without
matplotlib's bbox_inches="tight"), and texts drawn over each other. It measures what the renderer draws."""

from __future__ import annotations

PAGE_PX = 888  # the width of a figure on the site (the page's content column)
MIN_PX = 9.0  # the smallest text a student reads there without zooming


def drawn_texts(fig) -> list[tuple[str, float, object]]:
    """(text, size in points, window extent) of every text the renderer draws for ``fig``: tick labels,
    labels, titles, legends, annotations (multi-line ones as a whole), not those it leaves out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
    from matplotlib.text import Text

    drawn, seen, drawing = [], set(), []
    draw_text, draw_artist = RendererAgg.draw_text, Text.draw

    def record(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        artist = mtext if mtext is not None else (drawing[-1] if drawing else None)
        if s.strip() and artist is not None and id(artist) not in seen:
            seen.add(id(artist))
            drawn.append((artist.get_text(), prop.get_size_in_points(), artist.get_window_extent(self)))
        return draw_text(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    def draw(self, renderer):  # which Text a line of several belongs to (matplotlib passes mtext=None)
        drawing.append(self)
        try:
            return draw_artist(self, renderer)
        finally:
            drawing.pop()

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    RendererAgg.draw_text, Text.draw = record, draw
    try:
        canvas.draw()
    finally:
        RendererAgg.draw_text, Text.draw = draw_text, draw_artist
    return drawn


def figure_defects(fig, page_px: float = PAGE_PX, min_px: float = MIN_PX) -> list[str]:
    """What cannot be read in ``fig`` at the page's width: one line per defect, [] when none."""
    texts = drawn_texts(fig)
    width_px = fig.bbox.width
    scale = page_px / width_px  # figure pixels -> page pixels
    defects = []
    for s, points, box in texts:
        px = points * fig.dpi / 72 * scale
        if px < min_px - 1e-6:
            defects.append(f"{s!r}: {px:.1f} px at the page's width ({page_px} px), under {min_px:g} px")
        if box.x0 < -1 or box.y0 < -1 or box.x1 > fig.bbox.x1 + 1 or box.y1 > fig.bbox.y1 + 1:
            defects.append(f"{s!r}: cut off by the figure's edge")
    for i, (s, _, box) in enumerate(texts):
        for t, _, other in texts[i + 1 :]:
            if box.overlaps(other) and min(box.width, other.width) > 0:
                overlap_w = min(box.x1, other.x1) - max(box.x0, other.x0)
                overlap_h = min(box.y1, other.y1) - max(box.y0, other.y0)
                if overlap_w > 1 and overlap_h > 1:
                    defects.append(f"{s!r} and {t!r} overlap")
    return defects
