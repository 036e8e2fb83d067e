"""Collections: add documents (upload or paste), see what is stored, delete."""

import pandas as pd
import streamlit as st

from core import config
from core.documents.readers import FieldSpec, from_text
from core.errors import LabError
from core.ingest import builtin
from core.storage.collection import delete_collection, exists, validate_name
from ui import components, markup, resources
from ui.views import collection_admin as sections

LIMITS = config.LIMITS
components.page_setup("Collections")
st.title("Collections")
st.caption(
    f"Limits: {LIMITS.max_file_bytes // 2**20} MB per file, "
    f"{LIMITS.max_documents_per_ingest:,} documents per ingest, "
    f"{LIMITS.max_document_chars:,} characters per document. Accepted: txt, md, csv, jsonl, "
    "pdf. Long documents are split into overlapping chunks that fit the model."
)
resources.ensure_demo()

try:
    infos = resources.list_collections()
except LabError as exc:
    components.show_error(exc)
    infos = []
if infos:
    sections.table(infos)

if config.read_only():  # EMBEDLAB_READ_ONLY=1: a public deployment shows, never changes
    st.info("This deployment is read-only: uploading, pasting, deleting and building are off.")
    st.stop()

add_tab, paste_tab, manage_tab, builtin_tab = st.tabs(
    ["Upload files", "Paste text", "Documents and deletion", "Built-in collections"]
)

with add_tab:
    target = st.text_input("Collection (new or existing)", "my-documents", key="upload_target")
    upload_encoder = components.pick_encoder("upload_encoder")
    upload_store = sections.pick_store("upload_store")
    # A new key after each "Add" empties the uploader (the messages say what became of each
    # file), so the next files dropped must finish uploading before "Add" can be clicked
    # again: with the last files still listed it stayed enabled, and a quick click could run
    # before the new files arrived and add nothing.
    files = st.file_uploader(
        "Files",
        type=["txt", "md", "csv", "jsonl", "pdf"],
        accept_multiple_files=True,
        key=f"upload_files_{st.session_state.get('upload_round', 0)}",
    )
    c1, c2 = st.columns(2)
    text_fields = c1.text_input("Text fields (csv/jsonl)", "text", key="upload_text_fields")
    id_field = c2.text_input("Id field (csv/jsonl)", "id", key="upload_id_field")
    if st.button("Add to collection", key="upload_go", disabled=not files):
        try:
            validate_name(target)
            fields = FieldSpec.parse(text_fields, id_field)
        except LabError as exc:
            components.show_error(exc)
        else:
            docs, problems = sections.read_uploads(files, fields)
            st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
            sections.run_ingest("upload", target, docs, problems, upload_encoder, upload_store)
    sections.show_messages("upload")

with paste_tab:
    target = st.text_input("Collection (new or existing)", "my-notes", key="paste_target")
    paste_encoder = components.pick_encoder("paste_encoder")
    paste_store = sections.pick_store("paste_store")
    title = st.text_input("Title", "pasted note", key="paste_title", max_chars=200)
    text = st.text_area("Text", height=200, key="paste_text")
    if st.button("Add text", key="paste_go"):
        try:
            validate_name(target)
            sections.run_ingest(
                "paste", target, [from_text(text, title)], [], paste_encoder, paste_store
            )
        except LabError as exc:
            components.show_error(exc)
    sections.show_messages("paste")

with manage_tab:
    sections.show_messages("manage")  # above the documents table, which can be long
    name = components.pick_collection("manage_collection")
    if name:
        try:
            current = resources.collection(name)
            docs = current.store.documents(limit=500)
        except LabError as exc:
            components.show_error(exc)
            docs = []
        if docs:
            st.dataframe(
                pd.DataFrame(docs).drop(columns=["metadata"]),
                hide_index=True,
                width="stretch",
                key="manage_docs_table",
            )
            chosen = st.multiselect(
                "Documents to delete", [d["doc_id"] for d in docs], key="manage_delete_docs"
            )
            if st.button("Delete selected documents", key="manage_delete_docs_go") and chosen:
                removed = current.delete_documents(chosen)
                st.session_state.pop("manage_delete_docs", None)  # those ids are gone
                sections.changed(
                    "manage", [("success", f"Deleted {len(chosen)} documents ({removed} chunks).")]
                )
        st.divider()
        ask = f"Yes, delete the whole collection '{markup.plain(name)}'"
        confirm = st.checkbox(ask, key="manage_confirm")
        if st.button("Delete collection", key="manage_delete_go", disabled=not confirm):
            try:
                delete_collection(name)
            except LabError as exc:
                components.show_error(exc)
            else:
                resources.forget_collection(name)
                st.session_state.pop("manage_collection", None)
                sections.changed("manage", [("success", f"Deleted collection {name}.")])

with builtin_tab:
    st.markdown(
        "**demo**: a few hundred short passages across many topics, including several "
        "senses of ambiguous words (model, bank, python, apple, bat, spring, cell, …).\n\n"
        f"**{config.STDLIB_COLLECTION}**: the docstrings of this machine's Python standard "
        "library, several thousand entries, to try search at a realistic size. Building it "
        "takes a few minutes on a laptop and happens once."
    )
    label = "Rebuild" if exists(config.STDLIB_COLLECTION) else "Build"
    if st.button(f"{label} the Python standard library collection", key="builtin_stdlib_go"):
        bar = st.progress(0.0, text="Reading docstrings and embedding…")
        try:
            report = builtin.build_stdlib(
                resources.collection_embedder(config.STDLIB_COLLECTION),
                lambda d, t: bar.progress(d / max(t, 1)),
            )
        except LabError as exc:
            components.show_error(exc)
        else:
            bar.empty()
            resources.forget_collection(config.STDLIB_COLLECTION)
            sections.changed(
                "builtin", [("success", report.summary() if report else "Already up to date.")]
            )
    sections.show_messages("builtin")
