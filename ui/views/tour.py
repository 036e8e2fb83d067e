"""The guided tour: seven steps on Home, and the previous / next bar on each step's full view.

Home calls :func:`show` with what ``ui.resources.tour_encoder`` computed and with
``tour_next`` to call for step 6 (``core.explain.tour``). Each step is a sentence, a small
picture and a link to the page that shows it in full, with the tour's example in the link's
query parameters (``?text=``, ``?words=``, ``?word=&s=&s=``, ``?q=``) and ``?tour=<step>``.
A page opened with ``?tour=`` calls :func:`nav` for the bar. Example text and tokens reach
Markdown only through ``markup.plain``; pictures get them as chart data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core import config
from core.errors import LabError
from core.explain.tour import EXAMPLE, EncoderTour, Example, NextStep
from ui import components, markup
from ui.charts import tour as pictures


@dataclass(frozen=True)
class Stop:
    """One step: its title, the page that shows it in full, and that page's query parameters."""

    title: str
    page: str
    view: str
    params: Callable[[Example], dict[str, Any]]


def _sentence(example: Example) -> dict[str, Any]:
    return {"text": example.sentences[0]}


def _context(example: Example) -> dict[str, Any]:
    return {"word": example.word, "s": list(example.sentences)}


STOPS = (
    Stop("Text becomes word pieces and ids", "pages/6_How_it_works.py", "How it works", _sentence),
    Stop(
        "Each piece is a vector; similar words sit close",
        "pages/4_Words.py",
        "Words",
        lambda e: {"words": ", ".join(e.words)},
    ),
    Stop("Attention lets the vectors talk", "pages/5_Context.py", "Context", _context),
    Stop(
        "The feed-forward block lets each word think privately",
        "pages/6_How_it_works.py",
        "How it works",
        _sentence,
    ),
    Stop("The layers repeat; the two uses drift apart", "pages/5_Context.py", "Context", _context),
    Stop(
        "The last vector becomes the next token",
        "pages/7_Next_token.py",
        "Next token",
        lambda e: {"text": e.prompt},
    ),
    Stop(
        "One vector per text, and search compares those",
        "pages/1_Search.py",
        "Search",
        lambda e: {"q": e.query, "collection": config.DEMO_COLLECTION},
    ),
)


def link_params(step: int, example: Example = EXAMPLE) -> dict[str, Any]:
    """The query parameters of step ``step``'s full view (1-based), ``tour`` included."""
    return {**STOPS[step - 1].params(example), "tour": str(step)}


def link(step: int, label: str, example: Example = EXAMPLE) -> None:
    """A link to step ``step``'s full view with the example filled in."""
    st.page_link(STOPS[step - 1].page, label=label, query_params=link_params(step, example))


def current_step() -> int | None:
    """The step this page was opened for (``?tour=``), or None."""
    try:
        step = int(st.query_params.get("tour", ""))
    except ValueError:
        return None
    return step if 1 <= step <= len(STOPS) else None


def nav(example: Example = EXAMPLE) -> None:
    """On a page opened from the tour: where this is in the tour, and previous / next links."""
    step = current_step()
    if step is None:
        return
    components.show_html(markup.WRAP_LINKS_CSS)
    with st.container(border=True):
        st.markdown(f"**Guided tour, step {step} of {len(STOPS)}:** {STOPS[step - 1].title}.")
        back, home, ahead = st.columns(3)
        if step > 1:
            with back:
                link(step - 1, f"← Step {step - 1}: {STOPS[step - 2].title}", example)
        home.page_link("app.py", label="All seven steps on Home")
        if step < len(STOPS):
            with ahead:
                link(step + 1, f"Step {step + 1}: {STOPS[step].title} →", example)


def show(
    encoder: EncoderTour | None,
    next_step: Callable[[], NextStep],
    example: Example = EXAMPLE,
) -> None:
    """The seven steps, each a sentence, a picture (when its data is there) and a link.

    Args:
        encoder: steps 1-5 and 7, or None when they could not be computed (said above).
        next_step: computes step 6 (the causal model); called when step 6 is drawn, so the
            steps before it show while the model loads the first time.
        example: the tour's example.
    """
    components.show_html(markup.WRAP_LINKS_CSS)
    for step, stop in enumerate(STOPS, 1):
        with st.container(border=True, key=f"tour_step_{step}"):
            words, picture = st.columns([2, 3], gap="medium")
            with words:
                st.markdown(f"**{step}. {stop.title}**")
            ready = _next_or_error(next_step, words) if step == 6 else encoder
            if ready is not None:
                DRAW[step](ready, example, words, picture)
            with words:
                link(step, f"Open it in full: {stop.view} →", example)


def _next_or_error(next_step: Callable[[], NextStep], where: Any) -> NextStep | None:
    try:
        return next_step()
    except LabError as exc:
        with where:
            components.show_error(exc)
        return None


def _pieces(tour: EncoderTour, example: Example, words: Any, picture: Any) -> None:
    n = len(tour.pieces.pieces)
    words.markdown(
        f"The tokenizer cuts the first sentence into {n} pieces; each id is the piece's row "
        "in the model's table of vectors."
    )
    with picture:
        p = tour.pieces
        components.show_html(markup.pieces_html(p.pieces, p.ids, p.marked))


def _points(tour: EncoderTour, example: Example, words: Any, picture: Any) -> None:
    p = tour.points
    similar = markup.plain(", ".join(p.words[: p.similar]))
    words.markdown(
        f"Before any context, each piece is a fixed vector. {similar} sit close together "
        f"(mean cosine {p.within:.2f}), farther from the other words ({p.across:.2f})."
    )
    chart = pictures.word_points(p.words, p.xy, p.similar)
    picture.altair_chart(chart, key="tour_pic_2")


def _looks(tour: EncoderTour, example: Example, words: Any, picture: Any) -> None:
    one, two = (markup.plain(f'"{look.words[0]}"' if look.words else "-") for look in tour.looks)
    word = markup.plain(f'"{example.word}"')
    words.markdown(
        f"Each vector takes in the others, weighted by attention: {word} looks most at {one} "
        f"in sentence 1 and at {two} in sentence 2."
    )
    rows = [
        (i, w, s)
        for i, look in enumerate(tour.looks, 1)
        for w, s in zip(look.words, look.weights, strict=True)
    ]
    picture.altair_chart(pictures.looks(rows), key="tour_pic_3")


def _thinking(tour: EncoderTour, example: Example, words: Any, picture: Any) -> None:
    words.markdown(
        "Then every token goes through the same small network on its own, no token seeing "
        "another. The picture: how much it changes each token, layer by layer (darker: more)."
    )
    chart = pictures.updates(tour.thinking.ffn, tour.thinking.labels)
    picture.altair_chart(chart, key="tour_pic_4")


def _drift(tour: EncoderTour, example: Example, words: Any, picture: Any) -> None:
    d = tour.drift
    word = markup.plain(f'"{example.word}"')
    words.markdown(
        f"Attention and feed-forward repeat in {len(d) - 2} layers. The two {word} vectors "
        f"start as one (cosine {d[0]:.2f}) and end at {d[-1]:.2f}: the senses drifted apart."
    )
    picture.altair_chart(pictures.drift(d), key="tour_pic_5")


def _next(after: NextStep, example: Example, words: Any, picture: Any) -> None:
    prompt, top = markup.plain(f'"{after.prompt}"'), markup.plain(f'"{after.tokens[0].strip()}"')
    word = markup.plain(f'"{example.word}"')
    rank = "the word itself" if after.word_rank == 1 else f"{word} ranks {after.word_rank:,}"
    words.markdown(
        f"A GPT (SmolLM2) turns its last vector into a probability for every next token. After "
        f"{prompt} the likeliest is {top} ({after.probs[0]:.0%}): {rank}. Writing repeats "
        "this, one token at a time."
    )
    names = [repr(t) for t in after.tokens]
    chart = pictures.bars(names, after.probs, "probability of the next token")
    picture.altair_chart(chart, key="tour_pic_6")


def _pooled(tour: EncoderTour, example: Example, words: Any, picture: Any) -> None:
    p = tour.pooled
    query = markup.plain(f'"{p.query}"')
    words.markdown(
        f"An embedding model averages its token vectors into one per text. Search embeds the "
        f"question {query} the same way and ranks texts by cosine: {p.scores[0]:.2f} for "
        f"sentence 1, {p.scores[1]:.2f} for sentence 2."
    )
    names = [f"sentence {i}" for i in range(1, len(p.scores) + 1)]
    chart = pictures.bars(names, p.scores, "cosine with the question")
    picture.altair_chart(chart, key="tour_pic_7")


DRAW = {1: _pieces, 2: _points, 3: _looks, 4: _thinking, 5: _drift, 6: _next, 7: _pooled}
