"""`manage.py register_model NAME DIR`: serve a sentence-transformers model from local files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.embedding import BUILTIN_MODEL, ModelUnavailableError
from search.embedding.registry import (
    check_name,
    get_spec,
    parse_models_setting,
    read_registry_file,
    registry_file,
    write_registry_file,
)


class Command(BaseCommand):
    help = (
        "Register a sentence-transformers model directory (config.json, model.safetensors, tokenizer.json, "
        "modules.json, 1_Pooling/config.json, ...) under a hosted model name such as BGE_SMALL_EN_V1_5 or a "
        "name of your own. The registration is kept in VECSITE_EMBEDDING_REGISTRY (under the var dir), which "
        "every web and Celery process on this host reads; on several hosts use VECSITE_EMBEDDING_MODELS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Model name: upper case letters, digits and _ (e.g. BGE_SMALL_EN_V1_5).")
        parser.add_argument("directory", nargs="?", type=Path, help="The model directory (absolute or relative).")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Point an existing registration elsewhere (indexes keep their vectors: use the same model).",
        )
        parser.add_argument("--remove", action="store_true", help="Forget the registration NAME instead.")

    def handle(self, *args: object, **options: object) -> None:
        name = str(options["name"])
        directory = options["directory"]
        path = registry_file()
        try:
            models = read_registry_file(path)
        except ModelUnavailableError as error:
            raise CommandError(str(error)) from None
        if options["remove"]:
            if directory is not None:
                raise CommandError("--remove takes only the NAME")
            if models.pop(name, None) is None:
                raise CommandError(f"{name} is not registered in {path}")
            write_registry_file(models, path)
            self.stdout.write(self.style.SUCCESS(f"Removed {name} from {path}."))
            return
        if not isinstance(directory, Path):
            raise CommandError("give the model directory: register_model NAME DIR")
        try:
            check_name(name)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if name in models and not options["replace"]:
            raise CommandError(f"{name} is already registered ({models[name]}); add --replace to point it elsewhere")
        if name in _from_setting():
            raise CommandError(f"{name} is set by VECSITE_EMBEDDING_MODELS, which wins over this registry")

        previous = dict(models)
        models[name] = directory.expanduser().resolve()
        write_registry_file(models, path)
        try:
            spec = get_spec(name)  # reads the files back through the registry, as a worker would
        except ModelUnavailableError as error:
            write_registry_file(previous, path)
            raise CommandError(str(error)) from None
        config = spec.config
        self.stdout.write(self.style.SUCCESS(f"Registered {name} in {path}."))
        self.stdout.write(f"Directory:    {config.model_dir}")
        self.stdout.write(f"Dimension:    {spec.dimension}")
        self.stdout.write(f"Pooling:      {spec.pooling}{', normalised' if config.normalize else ''}")
        self.stdout.write(f"Max tokens:   {config.max_seq_length}")
        self.stdout.write(f"Query prompt: {spec.query_prompt!r}")
        if name != BUILTIN_MODEL:
            self.stdout.write(f"Use it with: manage.py create_index NAME --embedding-model {name}")


def _from_setting() -> dict[str, Path]:
    from django.conf import settings

    try:
        return parse_models_setting(str(getattr(settings, "VECSITE_EMBEDDING_MODELS", "") or ""))
    except ValueError as error:
        raise CommandError(str(error)) from None
