"""Inside the CNN: every layer of a model, its feature maps and filters, where it looked."""

import numpy as np
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.models import is_assembled
from fmnist_core.ui.inside_views import (
    inspector_or_none,
    show_arithmetic,
    show_enlarged,
    show_feature_maps,
    show_filters,
    show_layer_strip,
    show_where_it_looked,
)
from fmnist_core.ui.links import ViewLink, title_with_link
from fmnist_core.ui.loaders import artifacts_or_stop, dataset_or_stop
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import name_versions_in_use

run_through_app()
title_with_link("Inside the CNN")
st.markdown(
    "Follow one image through a network: the layers it passes, what each convolution "
    "responds to, the filters of the first layer, and which pixels decided the answer."
)
name_versions_in_use()

artifacts = {a.name: a for a in artifacts_or_stop()}
# an ensemble runs whole models side by side: its members are opened one by one
names = [n for n in artifacts if not is_assembled(n)]
# the link: /inside?model=robust&second=cnn4&image=42 (a test image; a picture from Predict
# stays in its session)
link = ViewLink("inside")
linked_model = ViewLink.model(names, {a.ref: a.name for a in artifacts.values()})
link.start("inside_model", "robust" if "robust" in names else names[0], "model", linked_model)
link.start("inside_second", "cnn4" if "cnn4" in names else "(none)", "second",
           ViewLink.model(["(none)", *names], {"none": "(none)"}))  # fmt: skip
from_predict = st.session_state.get("last_prediction_image")
linked_image = link.get("image", ViewLink.whole_number(0, 9_999))
if linked_image is not None:
    st.session_state.update(inside_source="Test image", inside_index=linked_image)
link.say_what_was_ignored()
st.session_state.setdefault(
    "inside_source", "From Predict" if from_predict is not None else "Test image"
)
sources = ["From Predict", "Test image"]
source_col, pick_col = st.columns([2, 3])
source = source_col.segmented_control("Image", sources, key="inside_source", required=True)
if source == "From Predict" and from_predict is None:
    st.info("Draw or upload a picture on the **Predict** page first; a test image is shown here.")
    st.page_link("pages/predict.py", label="Go to Predict", icon=":material/draw:")
    source = "Test image"
if source == "From Predict":
    image = np.asarray(from_predict, np.uint8)
    title = st.session_state.get("last_prediction_title", "Your picture from Predict")
else:
    ds = dataset_or_stop()
    with pick_col:
        if st.button("Random test image"):
            st.session_state["inside_index"] = int(np.random.default_rng().integers(len(ds.x_test)))
        index = st.number_input(
            "Test image index", 0, len(ds.x_test) - 1, key="inside_index", step=1
        )
    image = ds.x_test[int(index)]
    title = f"Test image {int(index)}: {CLASS_NAMES[int(ds.y_test[int(index)])]}"

for name in artifacts:
    if is_assembled(name):
        members = ", ".join(artifacts[name].manifest.get("members") or [])
        st.caption(f"**{name}** averages {members}: choose one of them to see its inside.")
model_col, second_col = st.columns(2)
first = model_col.selectbox("Model", names, key="inside_model")
others = ["(none)"] + [n for n in names if n != first]
if st.session_state["inside_second"] not in others:
    st.session_state["inside_second"] = "(none)"
second = second_col.selectbox(
    "Second model, to compare where they look", others, key="inside_second"
)
link.keep(model=first, second=None if second == "(none)" else second,
          image=int(index) if source == "Test image" else None)  # fmt: skip

ins = inspector_or_none(artifacts[first])
if ins is None:
    st.stop()
left, right = st.columns([1, 5])
left.image(image, caption=title, width=112, output_format="PNG")
with right:
    st.subheader("The network, layer by layer")
    show_layer_strip(ins)

st.subheader("Where it looked")
st.markdown(
    "For the three classes the model finds most likely, two ways to ask which pixels "
    "mattered, with how often each way was right on test images."
)
views = [first] + ([second] if second != "(none)" else [])
for col, name in zip(st.columns(len(views)), views):
    with col:
        st.markdown(f"**{name}**")
        other = ins if name == first else inspector_or_none(artifacts[name])
        if other is not None:
            convs = [c.name for c in other.conv_layers]
            layer = st.selectbox(
                "Grad-CAM on the convolution", convs, index=len(convs) - 1,
                key=f"inside_cam_{name}",
                help="Grad-CAM weighs one convolution's maps; the last one (the default) sees "
                "the largest parts of the image, earlier ones finer detail.",
            )  # fmt: skip
            show_where_it_looked(artifacts[name], other, image, layer)

st.subheader("Feature maps")
maps_col, big_col = st.columns([3, 2])
with maps_col:
    picked = show_feature_maps(ins, image, key="inside")
pixel = None
with big_col:
    if picked is not None:
        pixel = show_enlarged(ins, image, *picked, key="inside")
if pixel is not None:
    show_arithmetic(ins, image, picked[1], pixel)

st.subheader("The first layer's filters")
show_filters(ins)
