"""`manage.py pull huggingface ID`: download a model from the shell, with a progress bar.

The same engine as the workers' downloads, run in this process: resumable, verified, and it
waits its turn when a worker is downloading the same model.
"""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.modelstore import services, sources
from apps.modelstore.downloads import ChecksumMismatch, DownloadStopped, ModelDownload, Progress
from apps.modelstore.sources.base import SourceError
from apps.modelstore.units import human_size_binary


class Command(BaseCommand):
    help = "Download a model into the store, showing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", choices=sources.SOURCES.names(), help="Where to download from.")
        parser.add_argument("model_id", help="Model id (org/name) or its hub URL.")
        parser.add_argument(
            "--include", action="append", dest="include_patterns", help="Glob of files to fetch; repeat."
        )
        parser.add_argument("--force", action="store_true", help="Fetch every file again.")

    def handle(self, *args: object, **options: object) -> None:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stdout, dynamic_ncols=True)

        def report(progress: Progress) -> None:
            if progress.bytes_total and bar.total != progress.bytes_total:
                bar.total = progress.bytes_total
            bar.update(progress.bytes_done - bar.n)
            bar.set_postfix_str(f"{progress.files_done}/{progress.files_total} files", refresh=False)

        try:
            model_id = services.sources_model_id(str(options["model_id"]))
            result = ModelDownload(
                source=str(options["source"]),
                model_id=model_id,
                include_patterns=options["include_patterns"],
                force=bool(options["force"]),
                on_progress=report,
            ).run()
        except KeyboardInterrupt:
            raise CommandError("interrupted; run the same command again to resume") from None
        except DownloadStopped:
            raise CommandError("stopped; run the same command again to resume") from None
        except DomainError as error:
            raise CommandError(error.message) from None
        except (ChecksumMismatch, SourceError) as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        self.stdout.write(
            f"{result['source']}/{result['model_id']}: {len(result['files'])} files, "
            f"{human_size_binary(result['size_bytes'])} in {result['path']} "
            f"({human_size_binary(result['fetched_bytes'])} fetched, {result['files_reused']} files already there)"
        )
