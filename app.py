"""Start the ALBERT demo: `python app.py [--host H] [--port P] [--share] [--mcp]`.

GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured (flags win). Data (annotations,
compiled programs) lives in ALBERT_DEMO_DATA_DIR, default ./.albert_demo_data.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before anything imports keras
# Gradio rebuilds a pandas summary of its last 10,000 events after every event by default;
# under 50 users that was 11% of the server's CPU (py-spy). Every 500 events is plenty.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="print a public share link")
    parser.add_argument("--users", default=None, metavar="FILE",
                        help="log in with 'name:password[:owner]' per line (campaign annotators)")
    parser.add_argument("--concurrency", type=int,
                        default=None,
                        help="requests run at once per event")
    parser.add_argument("--mcp", action="store_true",
                        help="also serve read-only MCP tools at /gradio_api/mcp "
                             "(or ALBERT_DEMO_MCP=1)")
    return parser.parse_args(argv)


def writable_problem(folder):
    """None if `folder` can be created and written (a file is written and removed)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as error:
        return f"{type(error).__name__}: {error.strerror or error}"
    return None


def max_upload_bytes(config, store):
    """The largest file any feature accepts: fine-tune texts, campaign sources, imports."""
    return max(config.max_upload_bytes, store.import_limit_bytes if store else 0)


def patch_gradio():
    """What this server changes in Gradio's process-wide behaviour, in one place: run by
    `main()` only, so building the page (a notebook, a test) patches nothing."""
    from albert_demo.ui import lean_sessions, missing_imports

    lean_sessions.install()  # every plain-HTTP call is a new session: keep sessions cheap
    missing_imports.remember_missing()  # Gradio tries `import matplotlib` on every request


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # JAX tries every accelerator at start and logs "Unable to initialize backend 'tpu':
    # ... libtpu.so" at INFO where there is none: harmless, but it reads like an error.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    from albert_demo import settings
    from albert_demo.spaces.storage import use_space_storage

    use_space_storage()  # on a Space: /data/albert_demo if persistent storage is mounted
    try:
        config = settings.Settings.from_env()
    except settings.SettingError as error:  # one rule: a value we cannot use stops here
        raise SystemExit(f"Cannot start: {error}") from None
    data_dir = config.data_dir
    problem = writable_problem(data_dir)
    if problem:  # serve predictions anyway; saving features are switched off, said once
        logging.error("Data folder %s is not writable (%s): annotations and fine-tuning "
                      "are turned off; predictions still work. Set ALBERT_DEMO_DATA_DIR to "
                      "a writable folder to enable them.", data_dir, problem)
    if args.share or args.host not in LOOPBACK or "SPACE_ID" in os.environ:
        config = config.for_public()
    settings.use(config)

    from albert_demo.annotations import AnnotationStore
    from albert_demo.campaigns import CampaignService
    from albert_demo.campaigns.identity import read_users_file
    from albert_demo.engine import ModelCache, configure_compilation_cache
    from albert_demo.engine.activity import ServingActivity
    from albert_demo.finetune.service import FinetuneService
    from albert_demo.finetune.registry import FinetunedRegistry
    from albert_demo.presets.default_preset import DefaultPreset
    from albert_demo.services import (AnnotationService, EvaluationService,
                                      ExplanationService, PredictionService)
    from albert_demo.services.fill_mask import FillMaskService
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.fill_mask_route import fill_mask_routes
    from albert_demo.ui.layout import build_demo
    from albert_demo.ui.predict_tab import PHONE_CSS

    mcp = args.mcp or config.mcp_server
    if mcp and args.users:
        # Gradio's MCP endpoint runs tools without its login check: with --users the tools
        # would answer people the page refuses.
        raise SystemExit("--mcp cannot be combined with --users: Gradio's MCP server does "
                         "not check logins. Serve the read-only MCP tools from a server "
                         "without --users.")
    if mcp and importlib.util.find_spec("mcp") is None:
        raise SystemExit("--mcp needs the mcp package: pip install 'mcp>=1.21,<2' "
                         "(Gradio's MCP server fails to start with mcp 2).")

    if not problem:
        configure_compilation_cache(config.compilation_cache)
    activity = ServingActivity()  # predictions mark it; fine-tuning yields while busy
    cache = ModelCache(activity=activity)
    store = None if problem else AnnotationStore.from_env(data_dir)
    finetuned = None if problem else FinetunedRegistry(data_dir)
    # The embedded preset serves at once; the default (e.g. the real ALBERT) once loaded.
    default = DefaultPreset.from_settings(config)
    predictions = PredictionService(cache, finetuned, default_preset=default)
    annotations = AnnotationService(store, predictions)
    finetune = None if problem else FinetuneService(data_dir, models=cache, store=store,
                                                    serving=activity,
                                                    isolation=config.finetune_isolation)
    users, owners = read_users_file(args.users) if args.users else (None, frozenset())
    campaigns = None if problem else CampaignService(
        store, cache, owners=owners | config.campaign_owners)  # users file + env
    context = UIContext(predictions=predictions, annotations=annotations,
                        evaluation=EvaluationService(predictions, annotations),
                        data_dir=data_dir, finetune=finetune, campaigns=campaigns,
                        explanations=ExplanationService(predictions))
    threading.Thread(target=predictions.warm_up, args=(default.fallback,), name="warm-up",
                     daemon=True).start()
    default.start(predictions)
    patch_gradio()
    demo = build_demo(context)
    # Queue positions reach waiting browsers once a second, not at every start (Gradio's
    # "auto" sends each waiting request a message whenever any request starts).
    demo.queue(default_concurrency_limit=args.concurrency or config.concurrency,
               status_update_rate=config.queue_status_rate())
    # Gradio writes an upload to disk before any handler runs: refuse anything larger
    # than the largest upload a feature accepts at the route itself.
    # No allowed_paths: nothing in the data folder is served by path. Downloads leave only
    # as a copy a handler hands to the caller it checked (albert_demo/ui/downloads.py).
    # POST /models/<preset>: the fill-mask task as Hugging Face's clients speak it, in
    # front of Gradio's routes and outside its queue.
    routes = fill_mask_routes(FillMaskService(predictions), users)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                show_error=True, max_file_size=max_upload_bytes(config, store), auth=users,
                allowed_paths=[], app_kwargs={"routes": routes}, css=PHONE_CSS,
                # None: Gradio's own GRADIO_MCP_SERVER variable still decides
                mcp_server=True if mcp else None)


if __name__ == "__main__":
    main()
