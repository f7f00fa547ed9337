"""The latent explorer: the Gradio app that `app.py` serves.

- `handlers`: the actions over one generator (sample, render, steer, morph, interpolate, arithmetic), no UI;
- `view`: the current view and the share link that reopens it;
- `pictures`: sizes, upscaling and the named files pictures leave the server as;
- `checks`: checking what users send;
- `ui`: the page, one builder per tool.
"""
