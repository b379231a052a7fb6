"""import-linter contract: an app uses another app only through services, models and domain modules."""

from importlinter import Contract, ContractCheck, fields, output


class PrivateModulesContract(Contract):
    """No module of one app imports the `private` modules (api, views, …) of another app."""

    container = fields.StringField()
    private = fields.ListField(subfield=fields.StringField())

    def check(self, graph: object, verbose: bool) -> ContractCheck:
        container = str(self.container)
        private = {str(name) for name in self.private}
        violations = []
        for importer in sorted(graph.modules):
            importer_app = _app_of(importer, container)
            if importer_app is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                imported_app = _app_of(imported, container)
                if imported_app is None or imported_app == importer_app:
                    continue
                parts = imported.split(".")
                if len(parts) > 2 and parts[2] in private:
                    violations.append(f"{importer} imports {imported}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["violations"]:
            output.print_error(f"- {line}")


def _app_of(module: str, container: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == container else None
