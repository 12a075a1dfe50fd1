from endorm.data.assets import prepare_model
from endorm.logs import redirect_to

with redirect_to(snakemake.log[0]):
    print(prepare_model(snakemake.params.spec, snakemake.output[0]))
